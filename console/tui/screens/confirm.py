"""A yes/no question that must be answered before something irreversible happens.

A question about a running sync carries its `request_id`: the main view that
asked it closes the dialog itself when that sync ends before the operator answers.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape,q", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 100%; height: auto; border: thick $warning; background: $surface;
        padding: 1 2;
    }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; align: center middle; }
    ConfirmScreen Button { margin: 0 2; }
    """

    def __init__(self, question: str, *, request_id: int | None = None) -> None:
        super().__init__()
        self.question = question
        self.request_id = request_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
