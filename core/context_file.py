"""Reading and checking context files (YAML): every problem named by its line.

A context file holds slot types (values with their spoken synonyms), intents
(expressions, a MIDI action or a move of a continuous control, a safety class) and the
continuous controls those moves drive (``controls:``): the
:class:`~djtui.core.context.Context` model. Picovoice Rhino context files (``context: {expressions:…, slots:…}``) load as
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
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from djtui.core import grammar, phonetic
from djtui.core.context import CONTROLS, MIDI_TYPES, SAFETY_CLASSES, Action, Context, Intent, SlotType
from djtui.core.controls import HIRES_MAX_CC, LIMIT_KINDS, MORE_MEANS, Control, MoveError, MoveSpec
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


_SLOT_KEY = re.compile(r"^[A-Za-z_]\w*$")
_KEY_TEMPLATE = re.compile(r"(?:[^{}]|\{\w+\})*")


MAX_NAME_CHARS = 64
"""A context's name names its context model's folder and shows in the UI: a few words."""


class _Problems:
    """Every problem found, as ``file:line: what``, in the order of their lines."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._found: list[tuple[int, str]] = []

    def add(self, node: Any, what: str) -> None:
        line = node.start_mark.line + 1 if node is not None and hasattr(node, "start_mark") else 0
        self._found.append((line, f"{self.where}:{line}: {what}"))

    @property
    def items(self) -> list[str]:
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]


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
    top = _mapping(root, problems, "the file")
    context_node = top.get("context", (None, None))[1]
    if not isinstance(context_node, yaml.MappingNode):
        raise ContextError([f"{where}:1: missing 'context:' mapping at the top"])
    body = _mapping(context_node, problems, "'context'")

    slot_types = _load_slots(body.get("slots", (None, None))[1], problems)
    controls = _load_controls(body.get("controls", (None, None))[1], problems)
    intents: dict[str, Intent] = {}
    seen: dict[str, int] = {}
    if "intents" in body:
        node = body["intents"][1]
        if not isinstance(node, yaml.MappingNode):
            problems.add(node, "'intents' must be a mapping of intent name to its definition")
        else:
            for key_node, value_node in node.value:
                intent = _load_intent(key_node, value_node, slot_types, problems, seen, controls=controls)
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
        if key not in ("name", "slots", "intents", "expressions", "description", "controls"):
            problems.add(body[key][0], f"unknown key '{key}' (expected name, intents, expressions, slots, controls)")
    name = _name(body.get("name", (None, None))[1], source, problems)
    if problems.items:
        raise ContextError(problems.items)
    return Context(name=name, intents=intents, slot_types=slot_types, source=source, text=text, controls=controls)


def _name(node: Any, source: Path | None, problems: _Problems) -> str:
    """The context's ``name`` (default: the file's stem): a few plain words. It names the
    folder of the context model, so it may hold no path separators, nor be ``.``/``..``."""
    import yaml

    if node is None:
        return source.stem if source else "context"
    if not isinstance(node, yaml.ScalarNode):
        problems.add(node, "'name' must be a plain name such as 'dj' or 'my set', not a list or mapping")
        return "context"
    name = str(node.value).strip()
    if not name or name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
        problems.add(node, f"'name' must be a plain name such as 'dj' or 'my set' (no / or \\), not {node.value!r}")
    elif len(name) > MAX_NAME_CHARS:
        problems.add(node, f"'name' is {len(name)} characters long (at most {MAX_NAME_CHARS})")
    return name


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


def _mapping(node: Any, problems: _Problems, what: str) -> dict[str, tuple[Any, Any]]:
    """``{key: (key node, value node)}`` of a YAML mapping. A key given twice is a
    problem named at its second line: YAML itself would keep the last one silently."""
    found: dict[str, tuple[Any, Any]] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in found:
            problems.add(key, f"{what}: '{name}' given twice (first on line {found[name][0].start_mark.line + 1})")
        found[name] = (key, value)
    return found


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
                 seen: dict[str, int], rhino: bool = False,
                 controls: dict[str, Control] | None = None) -> Intent | None:
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
        spec = _mapping(node, problems, f"intent '{name}'")
        expr_node = spec.get("expressions", (None, None))[1]
        if expr_node is None:
            problems.add(key_node, f"intent '{name}' has no 'expressions'")
            return None
        for key in spec:
            if key not in ("expressions", "action", "move", "safety", "control", "description"):
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
    move = None
    if "move" in spec:
        if action is not None or control is not None:
            problems.add(spec["move"][0], f"intent '{name}': a move cannot also have an 'action' or a 'control'")
        elif isinstance(spec["move"][1], yaml.MappingNode):
            move = _MoveReader(name, spec["move"][1], expressions, slot_types, controls or {}, safety, problems).read()
        else:
            problems.add(spec["move"][1], f"intent '{name}': move must be a mapping (control, to or by, over, cut)")
    description = str(spec["description"][1].value) if "description" in spec else ""
    return Intent(name, tuple(expressions), tuple(sources), action, safety, control, description, line, move)


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
    return _ActionReader(intent, node, expressions, slot_types, problems).read()


class _ActionReader:
    """One intent's ``action:`` mapping, field by field, each problem reported once."""

    FIELDS = ("function", "type", "number", "key", "channel", "value", "toggle", "sets")

    def __init__(self, intent: str, node: Any, expressions: list[Seq], slot_types: dict[str, SlotType],
                 problems: _Problems) -> None:
        self.intent, self.node, self.expressions, self.slot_types = intent, node, expressions, slot_types
        self.problems = problems
        self.spec = _mapping(node, problems, f"intent '{intent}': action")
        self.slot_names = {s.name: s.type for e in expressions for s in e.slots()}
        self.key: str | None = None
        self.keys: list[str] = []

    def add(self, node: Any, what: str) -> None:
        self.problems.add(node, f"intent '{self.intent}': {what}")

    def read(self) -> Action:
        for name in self.spec:
            if name not in self.FIELDS:
                self.add(self.spec[name][0], f"action has unknown key '{name}'")
        midi_type = str(self.spec["type"][1].value) if "type" in self.spec else "note"
        if midi_type not in MIDI_TYPES:
            self.add(self.spec["type"][1], f"action type must be note or cc, not '{midi_type}'")
        self._read_key()
        function, function_map = self._function()
        number, number_map = self._number("note" if midi_type == "note" else "CC")
        value = 127
        if "value" in self.spec:
            value = self._int(self.spec["value"][1], 0, 127, "value") or 0
        toggle = str(self.spec["toggle"][1].value) if "toggle" in self.spec else None
        return Action(function, midi_type, number, self.key, function_map, number_map, self._channel(), value,
                      toggle, self._sets())

    def _int(self, node: Any, lo: int, hi: int, what: str) -> int | None:
        return _int_in(node, lo, hi, f"intent '{self.intent}': {what}", self.problems)

    def _read_key(self) -> None:
        """The ``key`` template ("{direction} {beats}") and every key it makes."""
        if "key" not in self.spec:
            return
        node = self.spec["key"][1]
        key = self.key = str(node.value)
        names = sorted(set(re.findall(r"{(\w+)}", key)))
        unknown = [n for n in names if n not in self.slot_names]
        values = {n: list(self.slot_types[t].values) for n, t in self.slot_names.items() if t in self.slot_types}
        if not _KEY_TEMPLATE.fullmatch(key):
            self.add(node, f"key must be words and {{slot}} fields, like \"{{direction}} {{beats}}\", not {key!r}")
        elif unknown:
            self.add(node, f"key uses '{unknown[0]}', which is not a slot of its expressions")
        elif lacking := [n for n in names if any(n not in {s.name for s in e.slots()} for e in self.expressions)]:
            self.add(node, f"key uses '{lacking[0]}', which some of its expressions do not fill")
        elif (count := math.prod(len(values.get(n, ())) for n in names)) > MAX_ACTION_KEYS:
            self.add(node, f"key makes {count:,} combinations (at most {MAX_ACTION_KEYS:,})")
        else:
            self.keys = Action(key=key).keys(values)

    def _by_key(self, field_name: str, node: Any, convert: Any) -> dict[str, Any]:
        """A ``{key: value}`` map (``function: {"4": 4BeatLoop, …}``), which must cover every key."""
        if self.key is None:
            self.add(node, f"a {field_name} map needs a 'key' template such as \"{{beats}}\"")
            return {}
        found = {}
        for key_node, value_node in _mapping(node, self.problems, f"intent '{self.intent}': {field_name} map").values():
            if (converted := convert(value_node)) is not None:
                found[str(key_node.value)] = converted
        if missing := [k for k in self.keys if k not in found]:
            self.add(node, f"{field_name} map lacks {missing[:3]}")
        return found

    def _function(self) -> tuple[str, dict[str, str]]:
        import yaml

        if "function" not in self.spec:
            self.add(self.node, "action needs a Rekordbox 'function'")
            return "", {}
        node = self.spec["function"][1]
        if isinstance(node, yaml.MappingNode):
            return "", self._by_key("function", node, lambda n: str(n.value))
        return str(node.value), {}

    def _number(self, kind: str) -> tuple[int | None, dict[str, int]]:
        import yaml

        if "number" not in self.spec:
            self.add(self.node, f"action needs a {kind} 'number' (0–127)")
            return None, {}
        node = self.spec["number"][1]
        if isinstance(node, yaml.MappingNode):
            return None, self._by_key("number", node, lambda n: self._int(n, 0, 127, f"{kind} number"))
        return self._int(node, 0, 127, f"{kind} number"), {}

    def _channel(self) -> int | None:
        """A fixed channel 0–15, or ``None`` for ``deck`` (deck n sends on channel n−1)."""
        where = self.spec.get("channel", (self.node, self.node))[1]
        if "channel" in self.spec and str(where.value) != "deck":
            return self._int(where, 0, 15, "channel")
        deck_type = self.slot_names.get("deck")
        if any("deck" not in {s.name for s in e.slots()} for e in self.expressions):
            self.add(where, "channel 'deck' needs a $…:deck slot in every expression (or a fixed channel 0–15)")
        elif deck_type in self.slot_types and (
                odd := [v for v in self.slot_types[deck_type].values if not (v.isdigit() and 1 <= int(v) <= 16)]):
            self.add(where, f"channel 'deck' needs deck values 1–16 (deck n is channel n−1), not {odd[0]!r}")
        return None

    def _sets(self) -> bool | None:
        if "sets" not in self.spec:
            return None
        raw = str(self.spec["sets"][1].value).lower()
        if raw not in ("true", "false"):
            self.add(self.spec["sets"][1], "'sets' must be true or false")
        return raw == "true"


_CONTROL_NAME = re.compile(r"[A-Za-z_]\w*")
_CONTROL_FUNCTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(?:\{deck\}[A-Za-z0-9_.\-]*)?")


def _number_in(node: Any, lo: float, hi: float, what: str, problems: _Problems) -> float | None:
    try:
        value = float(str(node.value))
    except (ValueError, AttributeError):
        problems.add(node, f"{what} must be a number {lo:g}–{hi:g}")
        return None
    if not lo <= value <= hi:
        problems.add(node, f"{what} {value:g} is out of range {lo:g}–{hi:g}")
        return None
    return value


def _bool(node: Any, what: str, problems: _Problems) -> bool:
    raw = str(node.value).lower()
    if raw not in ("true", "false"):
        problems.add(node, f"{what} must be true or false")
    return raw == "true"


def _load_controls(node: Any, problems: _Problems) -> dict[str, Control]:
    """``controls:``: each continuous control a move can drive, by name."""
    import yaml

    controls: dict[str, Control] = {}
    if node is None:
        return controls
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, "'controls' must be a mapping of control name to its function, cc and channel")
        return controls
    for name, (key_node, value_node) in _mapping(node, problems, "'controls'").items():
        if not _CONTROL_NAME.fullmatch(name):
            problems.add(key_node, f"control name {name!r} must be a plain identifier such as 'eq_low'")
            continue
        if not isinstance(value_node, yaml.MappingNode):
            problems.add(value_node, f"control '{name}' must be a mapping (function, cc, channel, …)")
            continue
        if (control := _read_control(name, key_node, value_node, problems)) is not None:
            controls[name] = control
    return controls


_CONTROL_FIELDS = ("function", "cc", "channel", "hires", "centre", "limit", "span", "unit", "more", "reverse")


def _read_control(name: str, key_node: Any, node: Any, problems: _Problems) -> Control | None:
    spec = _mapping(node, problems, f"control '{name}'")
    what = f"control '{name}'"
    for key in spec:
        if key not in _CONTROL_FIELDS:
            problems.add(spec[key][0], f"{what}: unknown key '{key}' (expected {', '.join(_CONTROL_FIELDS)})")
    missing = [k for k in ("function", "cc") if k not in spec]
    if missing:
        problems.add(key_node, f"{what} needs {' and '.join(repr(m) for m in missing)}")
        return None
    function = str(spec["function"][1].value)
    if not _CONTROL_FUNCTION.fullmatch(function):
        problems.add(spec["function"][1], f"{what}: {function!r} is not a Rekordbox function name (letters, digits, "
                                          "'.', '-', '_', and '{deck}' for the deck's number)")
    hires = _bool(spec["hires"][1], f"{what}: 'hires'", problems) if "hires" in spec else True
    cc = _int_in(spec["cc"][1], 0, 127, f"{what}: cc", problems)
    if cc is not None and hires and cc > HIRES_MAX_CC:
        problems.add(spec["cc"][1], f"{what}: cc {cc} is out of range 0–{HIRES_MAX_CC} for a 14-bit control (its LSB "
                                    "goes on cc + 32); 'hires: false' makes it a 7-bit one")
        cc = None
    channel = None
    if "channel" in spec and str(spec["channel"][1].value) != "deck":
        channel = _int_in(spec["channel"][1], 0, 15, f"{what}: channel", problems)
    if "{deck}" in function and channel is not None:
        problems.add(spec["function"][1], f"{what}: a function with '{{deck}}' needs channel 'deck'")
    centre = _number_in(spec["centre"][1], 0, 1, f"{what}: centre", problems) if "centre" in spec else None
    limit = str(spec["limit"][1].value) if "limit" in spec else "fader"
    if limit not in LIMIT_KINDS:
        problems.add(spec["limit"][1], f"{what}: limit must be one of {', '.join(LIMIT_KINDS)} "
                                       f"([controls] <kind>_per_beat in the config), not {limit!r}")
    span = _number_in(spec["span"][1], 1e-6, 1e6, f"{what}: span", problems) if "span" in spec else None
    unit = str(spec["unit"][1].value) if "unit" in spec else ""
    if unit and (span is None or not re.fullmatch(r"[^\s\d.+\-/]{1,8}", unit)):
        problems.add(spec["unit"][1], f"{what}: unit {unit!r} needs a 'span' and must be a short word or sign "
                                      "such as '%' (no digits or spaces)")
    more = str(spec["more"][1].value) if "more" in spec else "up"
    if more not in MORE_MEANS:
        problems.add(spec["more"][1], f"{what}: more must be one of {', '.join(MORE_MEANS)}, not {more!r}")
    elif more == "away" and centre is None:
        problems.add(spec["more"][1], f"{what}: more 'away' (from the centre) needs a 'centre'")
    reverse = _bool(spec["reverse"][1], f"{what}: 'reverse'", problems) if "reverse" in spec else False
    if cc is None:
        return None
    return Control(name, function, cc, channel, hires, centre, limit, span, unit, more, reverse,
                   key_node.start_mark.line + 1)


class _MoveReader:
    """One intent's ``move:`` mapping: its templates checked against the expressions'
    slots, and every move they can make tried on its control."""

    FIELDS = ("control", "to", "by", "over", "from", "cut", "defaults")

    def __init__(self, intent: str, node: Any, expressions: list[Seq], slot_types: dict[str, SlotType],
                 controls: dict[str, Control], safety: str, problems: _Problems) -> None:
        self.intent, self.node, self.expressions, self.slot_types = intent, node, expressions, slot_types
        self.controls, self.safety, self.problems = controls, safety, problems
        self.spec = _mapping(node, problems, f"intent '{intent}': move")
        self.slot_names = {s.name: s.type for e in expressions for s in e.slots()}

    def add(self, node: Any, what: str) -> None:
        self.problems.add(node, f"intent '{self.intent}': move: {what}")

    def read(self) -> MoveSpec | None:
        for name in self.spec:
            if name not in self.FIELDS:
                self.add(self.spec[name][0], f"unknown key '{name}' (expected {', '.join(self.FIELDS)})")
        if "control" not in self.spec:
            self.add(self.node, "needs the 'control' it moves (a name under 'controls', or a template such as "
                                "\"eq_{band}\")")
            return None
        if ("to" in self.spec) == ("by" in self.spec):
            self.add(self.node, "needs exactly one of 'to' (where: \"0.5\", centre) or 'by' (how far: \"up 0.05\")")
            return None
        templates = {k: str(self.spec[k][1].value) for k in ("control", "to", "by", "over", "from") if k in self.spec}
        defaults = self._defaults()
        ok = all(self._template(k, t, defaults) for k, t in templates.items())
        cut = _bool(self.spec["cut"][1], f"intent '{self.intent}': move: 'cut'", self.problems) if "cut" in self.spec else False
        if cut and self.safety == "safe":
            self.add(self.spec["cut"][0], "a cut jumps a playing deck at once: give the intent safety guarded or "
                                          "destructive, so it waits for 'confirm'")
        spec = MoveSpec(templates["control"], templates.get("to"), templates.get("by"), templates.get("over"),
                        templates.get("from"), cut, defaults)
        if ok:
            self._try_every_move(spec)
        return spec

    def _defaults(self) -> dict[str, str]:
        import yaml

        if "defaults" not in self.spec:
            return {}
        node = self.spec["defaults"][1]
        if not isinstance(node, yaml.MappingNode):
            self.add(node, "defaults must be a mapping of slot name to value ({amount: \"0.05\"})")
            return {}
        found = {}
        for name, (key_node, value_node) in _mapping(node, self.problems, f"intent '{self.intent}': defaults").items():
            value = str(value_node.value)
            slot_type = self.slot_types.get(self.slot_names.get(name, ""))
            if slot_type is None:
                self.add(key_node, f"default for '{name}', which is not a slot of its expressions")
            elif value not in slot_type.values:
                self.add(value_node, f"default {value!r} for '{name}' is not a value of slot type '{slot_type.name}' "
                                     f"({', '.join(list(slot_type.values)[:6])}…)")
            else:
                found[name] = value
        return found

    def _template(self, field_name: str, template: str, defaults: dict[str, str]) -> bool:
        node = self.spec[field_name][1]
        names = sorted(set(re.findall(r"{(\w+)}", template)))
        if not _KEY_TEMPLATE.fullmatch(template):
            self.add(node, f"{field_name} must be words and {{slot}} fields, like \"eq_{{band}}\", not {template!r}")
            return False
        if unknown := [n for n in names if n not in self.slot_names]:
            self.add(node, f"{field_name} uses '{unknown[0]}', which is not a slot of its expressions")
            return False
        if field_name != "over":  # a sentence without a duration leaves it to the safety gate
            lacking = [n for n in names if n not in defaults
                       and any(n not in {s.name for s in e.slots()} for e in self.expressions)]
            if lacking:
                self.add(node, f"{field_name} uses '{lacking[0]}', which some of its expressions do not fill "
                               "(give it a value under 'defaults')")
                return False
        return True

    def _try_every_move(self, spec: MoveSpec) -> None:
        """Every combination of the slot values its templates use, made into a move: the
        first that does not work is reported (an unknown control, a value past the end…)."""
        names = [n for n in spec.fields() if n in self.slot_names]
        values = {n: list(self.slot_types[self.slot_names[n]].values) for n in names
                  if self.slot_names[n] in self.slot_types}
        deck_in_all = all("deck" in {s.name for s in e.slots()} for e in self.expressions)
        if "deck" in self.slot_names and "deck" not in names:
            names.append("deck")
            values["deck"] = list(self.slot_types[self.slot_names["deck"]].values) if self.slot_names["deck"] in self.slot_types else []
        if math.prod(len(values.get(n, ())) for n in names) > MAX_ACTION_KEYS:
            self.add(self.node, f"its templates make more than {MAX_ACTION_KEYS:,} combinations")
            return
        with_over = [True, False] if spec.over else [False]
        for combo in itertools.product(*(values.get(n, []) for n in names)):
            slots = dict(zip(names, combo))
            if "deck" in slots and not (slots["deck"].isdigit() and 1 <= int(slots["deck"]) <= 16):
                self.add(self.node, f"deck values must be 1–16 (deck n is channel n−1), not {slots['deck']!r}")
                return
            for keep_over in with_over:
                said = slots if keep_over else {k: v for k, v in slots.items()
                                                if not spec.over or f"{{{k}}}" not in spec.over}
                try:
                    request = spec.request(said, self.controls)
                except (MoveError, KeyError, ValueError) as exc:
                    self.add(self.node, f"with {slots}: {exc}")
                    return
                if request.control.per_deck and not deck_in_all:
                    self.add(self.node, f"control '{request.control.name}' is a deck control: every expression "
                                        "needs a $…:deck slot")
                    return


def default_context() -> Context:
    from djtui.core import paths

    return load_context(paths.default_context())
