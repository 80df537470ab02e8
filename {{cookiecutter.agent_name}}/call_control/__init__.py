"""What the bot does to the live call. Each module here is one feature that bot.py lists."""
