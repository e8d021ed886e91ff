"""Command contexts: what a DJ can say and what it does.

A context file (YAML) holds slot types (values with their spoken synonyms) and intents
(expressions in the grammar of :mod:`djtui.core.grammar`, a MIDI action, a safety
class). Picovoice Rhino context files (``context: {expressions:…, slots:…}``) load as
they are: their intents get no action and the ``safe`` class.

:func:`load_context` reports every problem it finds as ``file:line: what is wrong`` in one
:class:`ContextError`; it never lets a YAML or key error escape. Sizes are bounded so
that checking, listing and resolving any file take bounded time and memory: at most
:data:`MAX_CONTEXT_BYTES` of YAML, :data:`MAX_EXPRESSIONS` expressions (each within the
grammar's own limits), :data:`MAX_SLOT_PHRASES` slot phrases of at most
:data:`MAX_PHRASE_CHARS` characters, and :data:`MAX_ACTION_KEYS` keys per action map.
Every phrase must be readable aloud: words the phoneme tools cannot read (emoji, other
scripts) are reported, not silently never matched.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djtui.core import grammar, phonetic
from djtui.core.errors import ContextError
from djtui.core.grammar import Choice, Seq, Slot, Word

MAX_CONTEXT_BYTES = 1 << 20
"""1 MiB: the bundled DJ context is 16 KB, Picovoice's coffee_maker 18 KB."""
MAX_EXPRESSIONS = 1000
"""The DJ context has 94, coffee_maker 80; each is a row of the resolver's alignment."""
MAX_SLOT_PHRASES = 5000
"""Spoken phrases over all slot types (the DJ context has 93): each is compared with
every stretch of every transcript."""
MAX_PHRASE_CHARS = 200
"""A slot phrase is a few words."""
MAX_ACTION_KEYS = 10_000
"""Keys an action's ``key`` template can make (the product of its slots' values)."""

SAFETY_CLASSES = ("safe", "guarded", "destructive")
CONTROLS = ("arm", "disarm", "confirm", "cancel")
MIDI_TYPES = ("note", "cc")


@dataclass(frozen=True)
class SlotType:
    """A slot type: each canonical ``value`` with the phrases that say it."""

    name: str
    values: dict[str, tuple[str, ...]]

    def phrases(self) -> Iterator[tuple[str, str]]:
        """``(phrase, value)`` for every way of saying every value."""
        for value, spoken in self.values.items():
            for phrase in spoken:
                yield phrase, value


@dataclass(frozen=True)
class Action:
    """The MIDI message an intent sends, and how it interacts with deck state.

    ``function`` (Rekordbox's name) and ``number`` (note or CC) are fixed, or looked up
    in ``function_map``/``number_map`` by ``key``, a template over the slots
    (``"{direction} {beats}"``). ``channel`` is fixed (0-15) or ``None``: the deck's
    (deck n -> channel n-1). ``toggle`` names deck state the function flips (PlayPause
    flips ``playing``) and ``sets`` the state this intent wants, so a toggle is only
    sent when the deck is not already there.
    """

    function: str = ""
    type: str = "note"
    number: int | None = None
    key: str | None = None
    function_map: dict[str, str] = field(default_factory=dict)
    number_map: dict[str, int] = field(default_factory=dict)
    channel: int | None = None
    value: int = 127
    toggle: str | None = None
    sets: bool | None = None

    def _key(self, slots: dict[str, str]) -> str:
        return (self.key or "").format(**slots)

    def function_for(self, slots: dict[str, str]) -> str:
        return self.function_map[self._key(slots)] if self.function_map else self.function

    def number_for(self, slots: dict[str, str]) -> int:
        if self.number_map:
            return self.number_map[self._key(slots)]
        assert self.number is not None
        return self.number

    def channel_for(self, slots: dict[str, str]) -> int:
        if self.channel is not None:
            return self.channel
        return int(slots["deck"]) - 1

    def keys(self, slot_values: dict[str, list[str]]) -> list[str]:
        """Every key the slots can produce (for validation and the Rekordbox CSV)."""
        if not self.key:
            return []
        names = re.findall(r"{(\w+)}", self.key)
        combos = itertools.product(*(slot_values.get(n, []) for n in names))
        return [self.key.format(**dict(zip(names, combo))) for combo in combos]


@dataclass(frozen=True)
class Intent:
    name: str
    expressions: tuple[Seq, ...]
    sources: tuple[str, ...]
    action: Action | None = None
    safety: str = "safe"
    control: str | None = None
    description: str = ""
    line: int = 0

    def slot_names(self) -> set[str]:
        return {s.name for e in self.expressions for s in e.slots()}


@dataclass(frozen=True)
class Sentence:
    """One concrete thing to say: its words, and the intent and slots it means."""

    text: str
    intent: str
    slots: dict[str, str]


@dataclass
class Context:
    name: str
    intents: dict[str, Intent]
    slot_types: dict[str, SlotType]
    source: Path | None = None
    text: str = ""
    """The file's text; the resolver's caches are keyed by its hash."""

    def slot_type_of(self, intent: str, slot_name: str) -> SlotType:
        for expression in self.intents[intent].expressions:
            for slot in expression.slots():
                if slot.name == slot_name:
                    return self.slot_types[slot.type]
        raise KeyError(slot_name)

    def size(self) -> int:
        """Number of distinct sentences the context expands to."""
        sizes = {name: sum(len(v) for v in t.values.values()) for name, t in self.slot_types.items()}
        return sum(grammar.count(e, sizes) for i in self.intents.values() for e in i.expressions)

    def expand(self, intent: str | None = None) -> Iterator[Sentence]:
        """Every sentence, in order. Check :meth:`size` first: some contexts are huge."""
        for name, spec in self.intents.items():
            if intent is not None and name != intent:
                continue
            for expression in spec.expressions:
                for words, slots in _expand(expression, self.slot_types):
                    yield Sentence(" ".join(words), name, dict(slots))

    def sample(self, n: int, rng: random.Random | None = None, intent: str | None = None) -> list[Sentence]:
        """``n`` random sentences: each intent (or just ``intent``) equally likely, then a
        random expression and random choices. Works on contexts of any size."""
        rng = rng or random.Random(0)
        names = [intent] if intent else list(self.intents)
        out = []
        for _ in range(n):
            name = rng.choice(names)
            expression = rng.choice(self.intents[name].expressions)
            words: list[str] = []
            slots: dict[str, str] = {}
            _sample(expression, self.slot_types, rng, words, slots)
            out.append(Sentence(" ".join(words), name, slots))
        return out

    def render(self, intent: str, slots: dict[str, str]) -> str:
        """A natural sentence for ``intent`` with these slot values (the first expression
        that uses exactly these slots, first phrasing of each choice)."""
        for expression in self.intents[intent].expressions:
            if {s.name for s in expression.slots()} == set(slots):
                words: list[str] = []
                if _render(expression, self.slot_types, slots, words):
                    return " ".join(words)
        return " ".join([intent.replace("_", " "), *slots.values()])


def _expand(seq: Seq, types: dict[str, SlotType]) -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
    parts: list[list[tuple[list[str], list[tuple[str, str]]]]] = []
    for item in seq.items:
        if isinstance(item, Word):
            parts.append([([item.text], [])])
        elif isinstance(item, Slot):
            parts.append([(phrase.split(), [(item.name, value)]) for phrase, value in types[item.type].phrases()])
        else:
            options = [x for o in item.options for x in _expand(o, types)]
            if item.optional:
                options.append(([], []))
            parts.append(options)
    for combo in itertools.product(*parts):
        yield [w for ws, _ in combo for w in ws], [s for _, ss in combo for s in ss]


def _sample(seq: Seq, types: dict[str, SlotType], rng: random.Random, words: list[str], slots: dict[str, str]) -> None:
    for item in seq.items:
        if isinstance(item, Word):
            words.append(item.text)
        elif isinstance(item, Slot):
            value = rng.choice(list(types[item.type].values))
            words.extend(rng.choice(types[item.type].values[value]).split())
            slots[item.name] = value
        else:
            if item.optional and rng.random() < 0.5:
                continue
            _sample(rng.choice(item.options), types, rng, words, slots)


def _render(seq: Seq, types: dict[str, SlotType], slots: dict[str, str], words: list[str]) -> bool:
    for item in seq.items:
        if isinstance(item, Word):
            words.append(item.text)
        elif isinstance(item, Slot):
            words.extend(types[item.type].values[slots[item.name]][0].split())
        else:
            wanted = {s.name for s in Seq((item,)).slots()} & set(slots)
            for option in item.options:
                if {s.name for s in option.slots()} >= wanted:
                    if _render(option, types, slots, words):
                        break
            else:
                if not item.optional:
                    return False
    return True


# --- loading and validation -------------------------------------------------------------

_SLOT_KEY = re.compile(r"^[A-Za-z_]\w*$")
_KEY_TEMPLATE = re.compile(r"(?:[^{}]|\{\w+\})*")


class _Problems:
    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, node: Any, what: str) -> None:
        line = node.start_mark.line + 1 if node is not None and hasattr(node, "start_mark") else 0
        self.items.append(f"{self.where}:{line}: {what}")


def load_context(path: str | Path) -> Context:
    """Load and validate a context file; raises :class:`ContextError` listing every
    problem as ``file:line: what is wrong``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONTEXT_BYTES:
            raise ContextError([f"{path}: too big for a context ({size / 2**20:.1f} MiB; at most "
                                f"{MAX_CONTEXT_BYTES // 2**20} MiB)"],
                               "a context lists commands, not data: keep slot lists to the words a DJ says")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContextError([f"{path}: no such file"], "give the path of a context YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextError([f"{path}: cannot read ({exc})"], "check the file and its permissions") from None
    return parse_context(text, str(path), source=path)


def parse_context(text: str, where: str = "<context>", source: Path | None = None) -> Context:
    import yaml

    problems = _Problems(where)
    if len(text) > MAX_CONTEXT_BYTES:
        raise ContextError([f"{where}: too big for a context ({len(text):,} characters; at most "
                            f"{MAX_CONTEXT_BYTES:,})"], "keep slot lists to the words a DJ says")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ContextError([f"{where}:{_yaml_problem(exc, text)}"], "fix the YAML syntax") from None
    except RecursionError:
        raise ContextError([f"{where}: unreadable YAML: lists or mappings nested too deeply"],
                           "a context needs a few levels of nesting, not hundreds") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise ContextError([f"{where}:1: a context file must be a mapping with a 'context:' key"])
    top = _mapping(root)
    context_node = top.get("context", (None, None))[1]
    if not isinstance(context_node, yaml.MappingNode):
        raise ContextError([f"{where}:1: missing 'context:' mapping at the top"])
    body = _mapping(context_node)

    slot_types = _load_slots(body.get("slots", (None, None))[1], problems)
    intents: dict[str, Intent] = {}
    seen: dict[str, int] = {}
    if "intents" in body:
        node = body["intents"][1]
        if not isinstance(node, yaml.MappingNode):
            problems.add(node, "'intents' must be a mapping of intent name to its definition")
        else:
            for key_node, value_node in node.value:
                intent = _load_intent(key_node, value_node, slot_types, problems, seen)
                if intent:
                    intents[intent.name] = intent
    if "expressions" in body:  # Rhino's layout: intent -> list of expressions
        node = body["expressions"][1]
        if not isinstance(node, yaml.MappingNode):
            problems.add(node, "'expressions' must be a mapping of intent name to a list of expressions")
        else:
            for key_node, value_node in node.value:
                intent = _load_intent(key_node, value_node, slot_types, problems, seen, rhino=True)
                if intent:
                    intents[intent.name] = intent
    if not intents and not problems.items:
        problems.add(context_node, "no intents: add 'intents:' (or Rhino's 'expressions:')")
    if (total := sum(len(i.expressions) for i in intents.values())) > MAX_EXPRESSIONS:
        problems.add(context_node, f"too many expressions: {total:,} (at most {MAX_EXPRESSIONS:,})")
    for key in body:
        if key not in ("name", "slots", "intents", "expressions", "description"):
            problems.add(body[key][0], f"unknown key '{key}' (expected name, intents, expressions, slots)")
    if problems.items:
        raise ContextError(problems.items)
    name_node = body.get("name", (None, None))[1]
    name = str(name_node.value) if name_node is not None else (source.stem if source else "context")
    return Context(name=name, intents=intents, slot_types=slot_types, source=source, text=text)


def _yaml_problem(exc: Any, text: str) -> str:
    """``line: unreadable YAML: what``, at the line to look at. A quote or bracket left
    open makes PyYAML read on to a later line (or the end of the file) and complain
    there; the line that opened it is the one to fix."""
    problem = getattr(exc, "problem", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    opened = getattr(exc, "context_mark", None)
    if opened is not None and (mark is None or not text[mark.index:].strip()):
        context = getattr(exc, "context", None) or "reading"
        return (f"{opened.line + 1}: unreadable YAML: {problem} {context} that starts on line {opened.line + 1}, "
                f"column {opened.column + 1}: is a quote or bracket left open?")
    if mark is not None and (start := _quote_run_on(text, mark.line)) is not None:
        return (f"{start + 1}: unreadable YAML: the quoted text that starts on line {start + 1} runs on to line "
                f"{mark.line + 1} ({problem} there): is its closing quote missing?")
    return f"{mark.line + 1 if mark else 0}: unreadable YAML: {problem}"


def _quote_run_on(text: str, error_line: int) -> int | None:
    """The line where a quoted string that ends on ``error_line`` began, if it began on
    an earlier line: a missing closing quote swallows the lines after it."""
    import yaml

    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.line > error_line:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"'):
                last = token
    except yaml.YAMLError:
        pass
    if last is not None and last.end_mark.line == error_line and last.start_mark.line < error_line:
        return last.start_mark.line
    return None


def _mapping(node: Any) -> dict[str, tuple[Any, Any]]:
    return {str(k.value): (k, v) for k, v in node.value}


def _scalar_list(node: Any, problems: _Problems, what: str) -> list[tuple[str, Any]]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return [(str(node.value), node)]
    if not isinstance(node, yaml.SequenceNode):
        problems.add(node, f"{what} must be a list")
        return []
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            problems.add(item, f"{what}: each entry must be a plain string")
            continue
        out.append((str(item.value), item))
    return out


def _load_slots(node: Any, problems: _Problems) -> dict[str, SlotType]:
    import yaml

    types: dict[str, SlotType] = {}
    phrases = [0]  # counted over every slot type: the limit is on the whole context
    if node is None:
        return types
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, "'slots' must be a mapping of slot type to values")
        return types
    for key_node, value_node in node.value:
        name = str(key_node.value)
        if name in types:
            problems.add(key_node, f"duplicate slot type '{name}'")
            continue
        values: dict[str, tuple[str, ...]] = {}
        if isinstance(value_node, yaml.SequenceNode):  # Rhino: each entry is its own phrase
            for item in value_node.value:
                if isinstance(item, yaml.MappingNode):  # djtui: {value: [synonyms]}
                    for vk, vv in item.value:
                        _add_value(values, name, vk, vv, problems, phrases)
                elif isinstance(item, yaml.ScalarNode):
                    value = str(item.value).strip()
                    if not value:
                        problems.add(item, f"slot type '{name}' has an empty value")
                        continue
                    if phrase := _spoken(value, item, problems, f"slot '{name}' value", phrases):
                        values[value] = (phrase,)
                else:
                    problems.add(item, f"slot type '{name}': values must be strings or value: [synonyms]")
        elif isinstance(value_node, yaml.MappingNode):  # djtui: value -> synonyms
            for vk, vv in value_node.value:
                _add_value(values, name, vk, vv, problems, phrases)
        else:
            problems.add(value_node, f"slot type '{name}' must list its values")
            continue
        if not values:
            problems.add(key_node, f"slot type '{name}' has no values")
            continue
        types[name] = SlotType(name, values)
    if phrases[0] > MAX_SLOT_PHRASES:
        problems.add(node, f"too many slot phrases: {phrases[0]:,} (at most {MAX_SLOT_PHRASES:,} over all slot types)")
    return types


def _add_value(values: dict[str, tuple[str, ...]], name: str, value_node: Any, spoken_node: Any,
               problems: _Problems, phrases: list[int]) -> None:
    """One slot value and the phrases that say it, checked."""
    value = str(value_node.value).strip()
    spoken = [(s, n) for s, n in _scalar_list(spoken_node, problems, f"slot '{name}' value '{value}'") if s.strip()]
    if not spoken:
        problems.add(value_node, f"slot '{name}' value '{value}' has no spoken form")
        return
    said = [p for s, n in spoken if (p := _spoken(s, n, problems, f"slot '{name}' value '{value}'", phrases))]
    if said:
        values[value] = tuple(said)


def _spoken(text: str, node: Any, problems: _Problems, what: str, phrases: list[int]) -> str | None:
    """``text`` as a slot phrase (lower case, single spaces), counted in ``phrases[0]``;
    None, with the problem noted, when it is too long or cannot be read aloud."""
    phrases[0] += 1
    if len(text) > MAX_PHRASE_CHARS:
        problems.add(node, f"{what}: phrase too long ({len(text):,} characters; at most {MAX_PHRASE_CHARS})")
        return None
    if unread := phonetic.unreadable(text):
        problems.add(node, f"{what}: {' '.join(unread)!r} in {text!r} has no English pronunciation: "
                           "write it as it is said")
        return None
    if not phonetic.normalize(text):
        problems.add(node, f"{what}: {text!r} has no words to say")
        return None
    return _phrase(text)


def _phrase(text: str) -> str:
    return " ".join(grammar.normalize_word(w) for w in str(text).split())


def _load_intent(key_node: Any, node: Any, slot_types: dict[str, SlotType], problems: _Problems,
                 seen: dict[str, int], rhino: bool = False) -> Intent | None:
    import yaml

    name = str(key_node.value)
    line = key_node.start_mark.line + 1
    if name in seen:
        problems.add(key_node, f"duplicate intent '{name}' (first defined on line {seen[name]})")
        return None
    seen[name] = line
    spec: dict[str, tuple[Any, Any]] = {}
    if rhino or isinstance(node, yaml.SequenceNode):
        expr_node = node
    elif isinstance(node, yaml.MappingNode):
        spec = _mapping(node)
        expr_node = spec.get("expressions", (None, None))[1]
        if expr_node is None:
            problems.add(key_node, f"intent '{name}' has no 'expressions'")
            return None
        for key in spec:
            if key not in ("expressions", "action", "safety", "control", "description"):
                problems.add(spec[key][0], f"intent '{name}': unknown key '{key}'")
    else:
        problems.add(node, f"intent '{name}' must be a list of expressions or a mapping")
        return None

    expressions: list[Seq] = []
    sources: list[str] = []
    ok = True
    for text, item in _scalar_list(expr_node, problems, f"intent '{name}' expressions"):
        try:
            seq = grammar.parse(text)
        except grammar.GrammarError as exc:
            problems.add(item, f"intent '{name}': {exc} in {text!r}")
            ok = False
            continue
        if unread := sorted({p for w in _words(seq) for p in phonetic.unreadable(w)}):
            problems.add(item, f"intent '{name}': {' '.join(unread)!r} in {text!r} has no English pronunciation: "
                               "write it as it is said")
            ok = False
        elif not seq.slots() and not any(phonetic.normalize(w) for w in _words(seq)):
            problems.add(item, f"intent '{name}': {text!r} has no words to say")
            ok = False
        for slot in seq.slots():
            if slot.type not in slot_types:
                problems.add(item, f"intent '{name}': unknown slot type '{slot.type}' in {text!r}")
                ok = False
        if dup := sorted(n for n, k in _slot_uses(seq).items() if k > 1):
            problems.add(item, f"intent '{name}': slot name {dup[0]!r} used twice in {text!r}")
            ok = False
        expressions.append(seq)
        sources.append(text)
    if not expressions:
        if ok:
            problems.add(key_node, f"intent '{name}' has no expressions")
        return None

    safety = "safe"
    if "safety" in spec:
        safety = str(spec["safety"][1].value)
        if safety not in SAFETY_CLASSES:
            problems.add(spec["safety"][1], f"intent '{name}': safety must be one of {', '.join(SAFETY_CLASSES)}, not '{safety}'")
    control = None
    if "control" in spec:
        control = str(spec["control"][1].value)
        if control not in CONTROLS:
            problems.add(spec["control"][1], f"intent '{name}': control must be one of {', '.join(CONTROLS)}")
    action = None
    if "action" in spec and not (isinstance(spec["action"][1], yaml.ScalarNode) and spec["action"][1].value in ("", "null", "~")):
        action = _load_action(name, spec["action"][1], expressions, slot_types, problems)
    description = str(spec["description"][1].value) if "description" in spec else ""
    return Intent(name, tuple(expressions), tuple(sources), action, safety, control, description, line)


def _words(seq: Seq) -> Iterator[str]:
    """Every word of an expression, in every alternative."""
    for item in seq.items:
        if isinstance(item, Word):
            yield item.text
        elif isinstance(item, Choice):
            for option in item.options:
                yield from _words(option)


def _slot_uses(seq: Seq) -> dict[str, int]:
    """Most times each slot name can be filled along one path through ``seq``
    (``[$deck:deck deck, deck $deck:deck]`` fills ``deck`` once, not twice)."""
    uses: dict[str, int] = {}
    for item in seq.items:
        if isinstance(item, Slot):
            inner = {item.name: 1}
        elif isinstance(item, Choice):
            inner = {}
            for option in item.options:
                for name, n in _slot_uses(option).items():
                    inner[name] = max(inner.get(name, 0), n)
        else:
            continue
        for name, n in inner.items():
            uses[name] = uses.get(name, 0) + n
    return uses


def _int_in(node: Any, lo: int, hi: int, what: str, problems: _Problems) -> int | None:
    try:
        value = int(str(node.value), 0)
    except (ValueError, AttributeError):
        problems.add(node, f"{what} must be a whole number {lo}–{hi}")
        return None
    if not lo <= value <= hi:
        problems.add(node, f"{what} {value} is out of range {lo}–{hi}")
        return None
    return value


def _load_action(intent: str, node: Any, expressions: list[Seq], slot_types: dict[str, SlotType],
                 problems: _Problems) -> Action | None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        problems.add(node, f"intent '{intent}': action must be a mapping (function, type, number, channel)")
        return None
    spec = _mapping(node)
    for key in spec:
        if key not in ("function", "type", "number", "key", "channel", "value", "toggle", "sets"):
            problems.add(spec[key][0], f"intent '{intent}': action has unknown key '{key}'")
    midi_type = str(spec["type"][1].value) if "type" in spec else "note"
    if midi_type not in MIDI_TYPES:
        problems.add(spec["type"][1], f"intent '{intent}': action type must be note or cc, not '{midi_type}'")
    kind = "note" if midi_type == "note" else "CC"
    slot_names = {s.name: s.type for e in expressions for s in e.slots()}
    key = str(spec["key"][1].value) if "key" in spec else None
    keys: list[str] = []
    if key is not None:
        names = sorted(set(re.findall(r"{(\w+)}", key)))
        unknown = [n for n in names if n not in slot_names]
        values = {n: list(slot_types[t].values) for n, t in slot_names.items() if t in slot_types}
        if not _KEY_TEMPLATE.fullmatch(key):
            problems.add(spec["key"][1], f"intent '{intent}': key must be words and {{slot}} fields, like "
                                         f"\"{{direction}} {{beats}}\", not {key!r}")
        elif unknown:
            problems.add(spec["key"][1], f"intent '{intent}': key uses '{unknown[0]}', which is not a slot of its expressions")
        elif lacking := [n for n in names if any(n not in {s.name for s in e.slots()} for e in expressions)]:
            problems.add(spec["key"][1], f"intent '{intent}': key uses '{lacking[0]}', which some of its "
                                         "expressions do not fill")
        elif (count := math.prod(len(values.get(n, ())) for n in names)) > MAX_ACTION_KEYS:
            problems.add(spec["key"][1], f"intent '{intent}': key makes {count:,} combinations "
                                         f"(at most {MAX_ACTION_KEYS:,})")
        else:
            keys = Action(key=key).keys(values)

    def by_key(field_name: str, n_node: Any, convert: Any) -> dict[str, Any]:
        if not isinstance(n_node, yaml.MappingNode):
            return {}
        if key is None:
            problems.add(n_node, f"intent '{intent}': a {field_name} map needs a 'key' template such as \"{{beats}}\"")
            return {}
        found = {}
        for vk, vv in n_node.value:
            converted = convert(vv)
            if converted is not None:
                found[str(vk.value)] = converted
        if missing := [k for k in keys if k not in found]:
            problems.add(n_node, f"intent '{intent}': {field_name} map lacks {missing[:3]}")
        return found

    function, function_map = "", {}
    if "function" not in spec:
        problems.add(node, f"intent '{intent}': action needs a Rekordbox 'function'")
    elif isinstance(spec["function"][1], yaml.MappingNode):
        function_map = by_key("function", spec["function"][1], lambda n: str(n.value))
    else:
        function = str(spec["function"][1].value)
    number, number_map = None, {}
    if "number" not in spec:
        problems.add(node, f"intent '{intent}': action needs a {kind} 'number' (0–127)")
    elif isinstance(spec["number"][1], yaml.MappingNode):
        number_map = by_key("number", spec["number"][1], lambda n: _int_in(n, 0, 127, f"intent '{intent}': {kind} number", problems))
    else:
        number = _int_in(spec["number"][1], 0, 127, f"intent '{intent}': {kind} number", problems)
    channel = None
    if "channel" in spec and str(spec["channel"][1].value) != "deck":
        channel = _int_in(spec["channel"][1], 0, 15, f"intent '{intent}': channel", problems)
    elif any("deck" not in {s.name for s in e.slots()} for e in expressions):
        problems.add(spec.get("channel", (node, node))[1],
                     f"intent '{intent}': channel 'deck' needs a $…:deck slot in every expression (or a fixed channel 0–15)")
    elif slot_names.get("deck") in slot_types and (
            odd := [v for v in slot_types[slot_names["deck"]].values if not (v.isdigit() and 1 <= int(v) <= 16)]):
        problems.add(spec.get("channel", (node, node))[1],
                     f"intent '{intent}': channel 'deck' needs deck values 1–16 (deck n is channel n−1), "
                     f"not {odd[0]!r}")
    value = 127
    if "value" in spec:
        value = _int_in(spec["value"][1], 0, 127, f"intent '{intent}': value", problems) or 0
    toggle = str(spec["toggle"][1].value) if "toggle" in spec else None
    sets = None
    if "sets" in spec:
        raw = str(spec["sets"][1].value).lower()
        if raw not in ("true", "false"):
            problems.add(spec["sets"][1], f"intent '{intent}': 'sets' must be true or false")
        sets = raw == "true"
    return Action(function, midi_type, number, key, function_map, number_map, channel, value, toggle, sets)


def default_context() -> Context:
    from djtui.core import paths

    return load_context(paths.default_context())
