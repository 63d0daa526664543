"""The operations console's Textual user interface: the app, its screens, panes and keys.

Only `console.tui.launch` is reached from outside (the command line, with no command);
importing this package alone loads nothing of Textual.
"""
