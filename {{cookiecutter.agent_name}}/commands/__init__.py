"""Commands a person runs from this folder (`uv run python -m commands.<name>`); none is in the image."""
