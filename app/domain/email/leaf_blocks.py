"""The stdlib's BytesFeedParser, keeping a large leaf part's body in blocks instead of one str.

The stdlib gathers a leaf's body as one str per line and joins them when the part ends: for a
25 MB attachment some 45 MB of line objects and the 25 MB join at once, and one more copy when
the multipart around it cuts the newline before its boundary. Here a leaf's lines are joined
into blocks of about BLOCK characters as they come. A body up to SPILL_AT is handed to the
stdlib as one piece (the payload it would have built); a larger one stays in its blocks on the
part (`InboundPart`), is read a run at a time by `body_runs`, and is joined only if someone asks
for the whole payload (the stdlib's own API still works on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.feedparser import BufferedSubFile, BytesFeedParser, NeedMoreData  # type: ignore[attr-defined]
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from typing import Any

# Lines are joined into blocks of about this many characters while a leaf is read.
BLOCK = 64 * 1024
# A leaf body longer than this stays in blocks.
SPILL_AT = 1024 * 1024


class InboundPart(EmailMessage):
    """An EmailMessage whose leaf body may be held in blocks (see the module). Everything the
    stdlib reads through `_payload` sees the whole body, joined on first use."""

    def __init__(self, policy: EmailPolicy | None = None) -> None:
        self._blocks: list[str] | None = None
        self._whole: Any = None
        # Parsed header values by lower-cased name, with the raw value each was parsed from.
        self._parsed: dict[str, tuple[Any, Any]] = {}
        super().__init__(policy)

    def get(self, name: str, failobj: Any = None) -> Any:
        # Message.get, remembering what it parsed: the stdlib parses a header afresh on every
        # read (its policy's header registry), and Content-Type alone is read about a dozen times
        # per message as the tree is walked. A header changed since is a new raw value.
        key = name.lower()
        for k, v in self._headers:  # type: ignore[attr-defined]  # the stdlib's own list, as Message.get reads it
            if k.lower() == key:
                kept = self._parsed.get(key)
                if kept is not None and kept[0] is v:
                    return kept[1]
                value = self.policy.header_fetch_parse(k, v)
                self._parsed[key] = (v, value)
                return value
        return failobj

    @property
    def _payload(self) -> Any:
        if self._blocks is not None:
            # Asked for whole (a generator, get_payload): joined once and kept so, the blocks go.
            self._whole, self._blocks = "".join(self._blocks), None
        return self._whole

    @_payload.setter
    def _payload(self, value: Any) -> None:
        self._whole, self._blocks = value, None

    def is_multipart(self) -> bool:
        # Without touching `_payload`: the stdlib asks this of every part it walks.
        return isinstance(self._whole, list)

    def hold_blocks(self, blocks: list[str]) -> None:
        self._whole, self._blocks = "", blocks


def body_runs(part: Message, run: int) -> Iterator[str] | None:
    """A leaf body still transfer-encoded, in runs of whole lines of about `run` characters (a
    longer line is one run), without building it whole; None when the payload is not text."""
    blocks = part._blocks if isinstance(part, InboundPart) else None
    if blocks is not None:
        return _block_runs(blocks, run)
    # The payload as the parser left it (8-bit bytes as surrogates); get_payload() would turn
    # those into U+FFFD.
    payload = part._payload if isinstance(part, InboundPart) else getattr(part, "_payload", None)
    return _line_runs(payload, run) if isinstance(payload, str) else None


def _line_runs(payload: str, run: int) -> Iterator[str]:
    """The payload in runs of whole lines of about `run` characters (a longer line is one run)."""
    start = 0
    while start < len(payload):
        end = payload.find("\n", start + run)
        end = len(payload) if end < 0 else end + 1
        yield payload[start:end]
        start = end


def _block_runs(blocks: list[str], run: int) -> Iterator[str]:
    # Blocks end at line ends, so whole blocks make whole lines; a block longer than `run` is cut
    # at line ends like a payload.
    pending: list[str] = []
    size = 0
    for block in blocks:
        if len(block) > run:
            for piece in _line_runs(block, run):
                pending.append(piece)
                size += len(piece)
                if size >= run:
                    yield "".join(pending)
                    pending, size = [], 0
            continue
        pending.append(block)
        size += len(block)
        if size >= run:
            yield "".join(pending)
            pending, size = [], 0
    if size:
        yield "".join(pending)


class _LeafBuffer(BufferedSubFile):
    """The parser's input, reading a leaf's body into blocks when told which leaf comes next."""

    def __init__(self) -> None:
        super().__init__()
        self._leaf: InboundPart | None = None
        self._blocks: list[str] = []
        self._pending: list[str] = []
        self._pending_size = 0
        # Leaves over SPILL_AT, and their blocks but the last characters.
        self.spilled: list[tuple[InboundPart, list[str]]] = []

    def read_leaf(self, leaf: InboundPart) -> None:
        self._leaf = leaf

    def readline(self) -> Any:
        if self._leaf is None:
            return super().readline()
        while True:
            line = super().readline()
            if line is NeedMoreData:
                return line
            if line == "":
                return self._end_leaf()
            self._pending.append(line)
            self._pending_size += len(line)
            if self._pending_size >= BLOCK:
                self._blocks.append("".join(self._pending))
                self._pending, self._pending_size = [], 0

    def _end_leaf(self) -> str:
        """The whole body as one line for the stdlib; or, for a body over SPILL_AT, only its last
        two characters, the rest kept aside. The stdlib may cut a newline from the end of the
        payload (before a boundary, RFC 2046; which part's is its business): the two characters
        hold any newline it cuts. The line that ended the leaf is still unread, so the next
        readline is "" again."""
        leaf, blocks = self._leaf, self._blocks
        if self._pending:
            blocks.append("".join(self._pending))
        self._leaf, self._blocks, self._pending, self._pending_size = None, [], [], 0
        if leaf is None or sum(map(len, blocks)) <= SPILL_AT:
            return "".join(blocks)
        while len(blocks) > 1 and len(blocks[-1]) < 2:
            last = blocks.pop()
            blocks[-1] += last
        last = blocks.pop()
        if len(last) > 2:
            blocks.append(last[:-2])
        self.spilled.append((leaf, blocks))
        return last[-2:]


class LeafBlockParser(BytesFeedParser):
    """BytesFeedParser whose leaves over SPILL_AT keep their bodies in blocks. The factory must
    make `InboundPart`s."""

    def __init__(self, factory: Callable[[], InboundPart], policy: EmailPolicy) -> None:
        super().__init__(factory, policy=policy)
        self._input = _LeafBuffer()

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        part = self._cur  # type: ignore[attr-defined]
        # What the stdlib reads next is this part's body, line by line to the end, when the part
        # is a leaf (the same test as the stdlib's, which treats multipart and message/* apart).
        if isinstance(part, InboundPart) and part.get_content_maintype() not in ("multipart", "message"):
            self._input.read_leaf(part)

    def close(self) -> Any:
        root = super().close()
        for part, blocks in self._input.spilled:
            # The payload the stdlib set is the body's last characters, maybe without a newline;
            # back onto the last block, so that blocks still end where lines end.
            if isinstance(tail := part._payload, str) and tail:
                if blocks:
                    blocks[-1] += tail
                else:
                    blocks.append(tail)
            part.hold_blocks(blocks)
        self._input.spilled.clear()
        return root
