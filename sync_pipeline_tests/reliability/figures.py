"""Figures as `name: value` lines, with the notes and samples that explain a figure off target."""

from __future__ import annotations

from dataclasses import dataclass, field

Counted = tuple[int, list[str]]


@dataclass
class Part:
    """One part's figures (in the order they were set) and its notes."""

    name: str
    figures: dict[str, float | int | str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figure(self, name: str, value: float | int | str) -> None:
        """Set one figure."""
        self.figures[name] = value

    def counted(self, name: str, counted: Counted) -> None:
        """Set a count figure and keep its samples as notes."""
        value, samples = counted
        self.figures[name] = value
        self.notes += [f"{name}: {s}" for s in samples]

    def add(self, name: str, value: int) -> None:
        """Add to a count figure."""
        current = self.figures.get(name, 0)
        assert isinstance(current, int)
        self.figures[name] = current + value

    def note(self, text: str) -> None:
        """Keep one line of explanation."""
        self.notes.append(text)


# Figures the issue sets a target for: most must be exactly this; runs_to_converge at most.
TARGETS: dict[str, int] = {
    "runs_to_converge": 3,
    "crash_trials": 20,
    "duplicates": 0,
    "lost_updates": 0,
    "mismatched_fields": 0,
    "store_integrity_errors": 0,
    "bad_input_leaks": 0,
    "leaked_secrets": 0,
    "double_writes": 0,
    "lock_takeovers_before_lease_end": 0,
    "crashed_holder_block_seconds": 60,
    "lost_edits": 0,
    "flapping_writes": 0,
    "given_up_valid_items": 0,
    "false_orphans": 0,
    "ambiguous_autolinks": 0,
}
ORDER = (
    "runs_to_converge",
    "duplicates",
    "lost_updates",
    "mismatched_fields",
    "crash_trials",
    "store_integrity_errors",
    "bad_input_kinds",
    "bad_input_leaks",
    "leaked_secrets",
    "double_writes",
    "lock_takeovers_before_lease_end",
    "crashed_holder_block_seconds",
    "lost_edits",
    "flapping_writes",
    "given_up_valid_items",
    "false_orphans",
    "ambiguous_autolinks",
)
# Figures several parts measure (e.g. on both backends) are summed into the headline figure,
# or for AT_MOST ones the worst is kept; those are on target at or under their target.
SUMMED = frozenset(
    {
        "duplicates",
        "store_integrity_errors",
        "mismatched_fields",
        "double_writes",
        "lock_takeovers_before_lease_end",
    }
)
AT_MOST = frozenset({"runs_to_converge", "crashed_holder_block_seconds"})


def headline(parts: list[Part]) -> dict[str, float | int | str]:
    """The issue's figures first (summed, or the worst, over parts where several measure
    them), then the rest; a PostgreSQL part's figures also each under its own name."""
    out: dict[str, float | int | str] = {}
    for part in parts:
        for name, value in part.figures.items():
            if name in SUMMED and name in out and isinstance(value, int):
                out[name] = int(out[name]) + value
            elif name in AT_MOST and name in out and isinstance(value, int | float):
                out[name] = max(float(out[name]), value)
            elif name in ORDER:
                out.setdefault(name, value)
    extras = {
        f"{part.name}.{name}": value
        for part in parts
        for name, value in part.figures.items()
        if name not in ORDER or part.name.endswith("_postgresql")
    }
    ordered = {name: out[name] for name in ORDER if name in out}
    return {**ordered, **extras}


def render(figures: dict[str, float | int | str]) -> str:
    """`name: value` lines."""
    return "\n".join(f"{name}: {value}" for name, value in figures.items())


def misses(figures: dict[str, float | int | str]) -> list[str]:
    """The issue's figures that are off target (or missing)."""
    out = []
    for name, target in TARGETS.items():
        value = figures.get(name)
        if name in AT_MOST:
            ok = isinstance(value, int | float) and value <= target
        else:
            ok = isinstance(value, int) and value == target
        if not ok:
            out.append(f"{name}: {value} (target {target})")
    # A part that raised measured nothing: its figures are missing, not on target.
    out += [
        f"{name}: 1 (the part raised; see its note)"
        for name in figures
        if name.endswith(".part_crashed")
    ]
    return out
