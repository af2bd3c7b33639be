"""Channels (Telegram, REST, terminal) and the process entry points; the composition root."""
