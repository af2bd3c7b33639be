"""The dialog manager: conversation state, flows, global commands, intents and message catalogs."""
