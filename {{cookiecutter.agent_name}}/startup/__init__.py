"""What one agent process prepares once, before and between its calls."""
