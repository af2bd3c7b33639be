"""One module per flow; dialogs/registry.py lists them."""
