"""The blocking notice shown when the store broke under the console.

When the orchestrator reports a fatal store fault (`Orchestrator.fault`: the file
corrupt, deleted or replaced under this process), it has already stopped
running and watching: carrying on could make a second runner. This modal names
the file and what to do, and it cannot be dismissed: the only key is `q`, which
quits with exit code 2 (the launcher prints the same reason once the screen is gone).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.widgets.key_bar import KeyBar
from core.errors import StoreBroken, StoreReplaced

EXIT_FAULT = 2


def fault_text(fault: StoreBroken) -> str:
    if isinstance(fault, StoreReplaced):
        todo = (
            "Quit, find out what moved or replaced the file, put the right store back at "
            "that path (or point --data-dir at it), then start syncdeck again."
        )
    else:
        todo = "Quit, then follow the advice above before starting syncdeck again."
    return f"{fault}\n\nThis console runs and watches nothing more.\n{todo}"


class FaultScreen(ModalScreen[None]):
    BINDINGS = [Binding("q,ctrl+q", "quit_fault", "Quit")]
    DEFAULT_CSS = """
    FaultScreen { align: center middle; }
    FaultScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 90%; border: thick $error;
        background: $surface; padding: 0 1;
    }
    """

    def __init__(self, fault: StoreBroken) -> None:
        super().__init__()
        self.fault = fault

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "The store cannot be used"
            box.border_subtitle = "q quit"
            yield Static(fault_text(self.fault), id="fault")
        yield KeyBar()

    def action_quit_fault(self) -> None:
        self.app.exit(return_code=EXIT_FAULT)
