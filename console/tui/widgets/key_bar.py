"""The footer: the keys that work here and now, read from the bindings the app runs.

Textual's own Footer fills itself only after the screen's first refresh, composing
one widget per key then, so the console's first frame would come without it. This
bar is one widget: it draws the screen's active bindings in the first frame and
only redraws (nothing is composed) when they change. Keys come from
`console.tui.keys` through the bindings, so it shows what the help screen and the
command palette offer. A screen may narrow and name them: its `key_shown(action)`
says whether the footer shows a key there (the main view: exactly the keys that
act on the focused pane), its `key_label(action, label)` names what a toggle does
now. Each key has a label of its own if they all fit (beside the command palette's
label, or its key alone); else the keys of one binding group share a label
("f/i/a Sync"), beside the palette's label, its key or, when even that does not
fit, without it; last, whole keys from the end are left out (a cut-off label
helps nobody), but never help and quit (`PINNED`): however narrow the terminal,
`? Help` and `q Quit` stay. A click on a key acts like the key.

Failures: none; a binding whose key is not active any more is simply not drawn.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

PINNED = frozenset({"help", "quit_console"})
"""The actions whose keys are never left out: the one that shows every key, and the way out."""


class Offer(msgspec.Struct, frozen=True):
    """One key in the bar."""

    key: str
    """The Textual key name (what pressing it sends)."""
    display: str
    description: str
    action: str
    enabled: bool
    group: str = ""
    """The label the keys of its binding group share when room is short ("Sync")."""


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
        label = getattr(self.screen, "key_label", None)  # the main view's toggle labels
        wanted = getattr(self.screen, "key_shown", None)  # the main view's per-pane keys

        def offer(key: str) -> Offer:
            _node, binding, enabled, _tooltip = active[key]
            display = app.get_key_display(binding)
            description = (
                binding.description if label is None else label(binding.action, binding.description)
            )
            group = binding.group.description if binding.group is not None else ""
            return Offer(key, display, description, binding.action, enabled, group)

        shown: dict[str, Offer] = {}
        for key, (_node, binding, _enabled, _tooltip) in active.items():
            if not binding.show or binding.action in shown:
                continue
            if wanted is None or wanted(binding.action):
                shown[binding.action] = offer(key)
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            palette = offer(app.COMMAND_PALETTE_BINDING)
        return list(shown.values()), palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        offers, palette = self.offers()
        width = self.size.width

        def styled(text: Text, offer: Offer) -> Text:
            if not offer.enabled:
                text.stylize("dim")
            return text

        def item(offer: Offer, described: bool = True) -> Text:
            text = Text(offer.display, key_style)
            if described:
                text.append(f" {offer.description}", description_style)
            return styled(text, offer)

        def group(run: list[Offer]) -> Piece:
            """ "f/i/a Sync": each key clickable, the label as the first key."""
            text, parts = Text(), []
            for n, member in enumerate(run):
                if n:
                    text.append("/", key_style)
                start = text.cell_len
                text.append_text(styled(Text(member.display, key_style), member))
                parts.append((start, text.cell_len, member))
            start = text.cell_len
            text.append_text(styled(Text(f" {run[0].group}", description_style), run[0]))
            parts.append((start, text.cell_len, run[0]))
            return text, parts

        tails = [Text()]
        if palette is not None:
            tails = [
                Text.assemble(("▏", "dim"), item(palette)),
                Text.assemble(("▏", "dim"), item(palette, described=False)),
                Text(),  # no room left for it: the keys of this pane come first
            ]
        # One label per key if they fit; else grouped; the palette's hint gives way first.
        choices = [(False, tail) for tail in tails[:2]] + [(True, tail) for tail in tails]
        for grouped, tail in choices:
            pieces = _pieces(offers, item, group if grouped else None)
            if _width(pieces) + tail.cell_len + (1 if tail else 0) <= width:
                break
        room = max(0, width - tail.cell_len - 1)
        pieces = _within(pieces, room)
        line = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, Offer]] = []
        for piece, parts in pieces:
            if line.cell_len + piece.cell_len > room:
                break  # whole keys only: a cut-off label helps nobody
            start = line.cell_len
            spans.extend((start + a, start + b, offer) for a, b, offer in parts)
            line.append_text(piece)
            line.append(" ")
        if palette is not None and tail:
            gap = max(0, width - line.cell_len - tail.cell_len)  # a space ends the keys
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


Piece = tuple[Text, list[tuple[int, int, Offer]]]
"""One footer item and the key each of its cells stands for (start, end, offer)."""


def _width(pieces: list[Piece]) -> int:
    """The cells the pieces take, with a space between two."""
    return sum(piece.cell_len for piece, _ in pieces) + max(0, len(pieces) - 1)


def _within(pieces: list[Piece], room: int) -> list[Piece]:
    """The pieces that fit `room` cells: the last ones left out first, but never a pinned
    key's (`PINNED`)."""
    kept = list(pieces)
    while _width(kept) > room:
        loose = [i for i, (_, parts) in enumerate(kept) if not _pinned(parts)]
        if not loose:
            break
        del kept[loose[-1]]
    return kept


def _pinned(parts: list[tuple[int, int, Offer]]) -> bool:
    return any(offer.action in PINNED for _, _, offer in parts)


def _pieces(
    offers: list[Offer], item: Callable[[Offer], Text], group: Callable[[list[Offer]], Piece] | None
) -> list[Piece]:
    """The footer's items: one per key, or (with `group`) one per run of neighbouring keys
    of one binding group."""
    pieces: list[Piece] = []
    i = 0
    while i < len(offers):
        run = [offers[i]]
        while group is not None and run[0].group and i + len(run) < len(offers):
            if offers[i + len(run)].group != run[0].group:
                break
            run.append(offers[i + len(run)])
        i += len(run)
        if len(run) > 1 and group is not None:
            pieces.append(group(run))
            continue
        piece = item(run[0])
        pieces.append((piece, [(0, piece.cell_len, run[0])]))
    return pieces
