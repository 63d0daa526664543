"""The footer: the keys that work here and now, read from the bindings the app runs.

Textual's own Footer fills itself only after the screen's first refresh, composing
one widget per key then, so the console's first frame would come without it. This
bar is one widget: it draws
the screen's active bindings in the first frame and only redraws (nothing is
composed) when they change. Keys come from `console.tui.keys` through the bindings,
so it shows exactly what the help screen and the command palette offer.
"""

from __future__ import annotations

import msgspec
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class Offer(msgspec.Struct, frozen=True):
    """One key in the bar."""

    key: str
    """The Textual key name (what pressing it sends)."""
    display: str
    description: str
    action: str
    enabled: bool


class KeyBar(Widget):
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, Offer]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def offers(self) -> tuple[list[Offer], Offer | None]:
        """The keys shown, left to right (one per action), and the command palette's."""
        app = self.app
        active = self.screen.active_bindings

        def offer(key: str) -> Offer:
            _node, binding, enabled, _tooltip = active[key]
            display = app.get_key_display(binding)
            label = getattr(self.screen, "key_label", None)  # the main view's state labels
            description = (
                binding.description if label is None else label(binding.action, binding.description)
            )
            return Offer(key, display, description, binding.action, enabled)

        shown: dict[str, Offer] = {}
        for key, (_node, binding, _enabled, _tooltip) in active.items():
            if binding.show and binding.action not in shown:
                shown[binding.action] = offer(key)
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            palette = offer(app.COMMAND_PALETTE_BINDING)
        return list(shown.values()), palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        offers, palette = self.offers()
        spans: list[tuple[int, int, Offer]] = []

        def item(offer: Offer, described: bool = True) -> Text:
            text = Text(offer.display, key_style)
            if described:
                text.append(f" {offer.description}", description_style)
            if not offer.enabled:
                text.stylize("dim")
            return text

        width = self.size.width
        tail = Text()
        if palette is not None:
            tail = Text.assemble(("▏", "dim"), item(palette))
            wanted = sum(item(offer).cell_len + 1 for offer in offers)
            if wanted + tail.cell_len > width:  # the palette's label goes before any key
                tail = Text.assemble(("▏", "dim"), item(palette, described=False))
        room = max(0, width - tail.cell_len - 1)
        keys = Text(no_wrap=True, overflow="crop")
        for offer in offers:
            piece = item(offer)
            if keys.cell_len + piece.cell_len > room:
                break  # whole keys only: a cut-off label helps nobody
            spans.append((keys.cell_len, keys.cell_len + piece.cell_len, offer))
            keys.append_text(piece)
            keys.append(" ")
        line = keys
        if palette is not None:
            gap = max(1, width - keys.cell_len - tail.cell_len)
            line.append(" " * gap)
            spans.append((line.cell_len + 1, line.cell_len + tail.cell_len, palette))
            line.append_text(tail)
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, offer in self._spans:
            if start <= event.x < end:
                if offer.enabled:
                    self.app.simulate_key(offer.key)
                else:
                    self.app.bell()
                return
