"""The brands file (``HYPERMICRO_BRANDS_FILE``): the one loader of brand records.

A brands file is ``{"brands": [ {id, name, aliases, ...}, ... ]}``; see ``docs/brands.md``.
:func:`load_brands` validates it (queries included, :mod:`pipeline.core.brand_query`) into
:class:`BrandConfig` records with readable errors; the matcher (``models.brands``), the API,
live voices, alert routing, spike sensitivities and ``hypermicro check`` all read it here.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.core.brand_query import Node, QuerySyntaxError, has_anchor, parse

SurfaceRule = Literal["name", "alias", "misspelling", "handle", "hashtag"]
SURFACE_RULES: tuple[str, ...] = ("name", "alias", "misspelling", "handle", "hashtag")
_DEFAULT_GATED: tuple[SurfaceRule, ...] = ("name", "alias", "misspelling")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_HANDLE_RE = re.compile(r"^@\w+(?:@[\w-]+(?:\.[\w-]+)+)?$")  # @name or Mastodon @name@host.tld
_HASHTAG_RE = re.compile(r"^#\w+$")


class BrandConfigError(ValueError):
    """A brands file that cannot be used; the message lists every problem with its location."""


def _clean_list(values: list[str], what: str) -> list[str]:
    out: list[str] = []
    for v in values:
        v = " ".join(str(v).split())
        if not v:
            raise ValueError(f"{what} entries must not be blank")
        if v not in out:
            out.append(v)
    return out


class SpikeSensitivity(BaseModel):
    """Per-brand negative-spike sensitivity (``docs/spikes.md``); unset fields use the global one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratio: float | None = Field(None, gt=1, description="Negative mentions at least this many times the usual rate.")
    excess_per_hour: float | None = Field(
        None, gt=0, description="... and at least this many more an hour than usual."
    )


class BrandConfig(BaseModel):
    """One brand to listen for.

    Matching semantics (exact): a post mentions the brand when

    * a *surface form* matches, i.e. the name (unless ``match_name`` is false), an alias, a
      misspelling, a handle or a hashtag; surface forms whose rule is listed in
      ``context_applies_to`` (default: name, alias, misspelling) count only if the brand has no
      ``context`` or the context is satisfied: one of the ``context`` terms occurs anywhere in the
      post, or a surface form of a rule *not* gated by context matched in the same post; **or**
    * the ``query`` matches.

    ``match_name`` defaults to true, except for a brand with a ``query`` and no other surface
    form (aliases, misspellings, handles, hashtags): such a brand matches only via its query and
    its ``name`` is a display label.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable identifier (lower-case slug) used in storage and alerts.")
    name: str = Field(
        min_length=1, description="Display name; also a surface form (see match_name)."
    )
    aliases: list[str] = Field(
        default_factory=list, description="Other names, products, spellings."
    )
    misspellings: list[str] = Field(
        default_factory=list, description="Common typos, reported as rule 'misspelling'."
    )
    handles: list[str] = Field(
        default_factory=list, description="Social handles such as '@acme' ('@' optional)."
    )
    hashtags: list[str] = Field(
        default_factory=list, description="Hashtags such as '#acme' ('#' optional)."
    )
    competitors: list[str] = Field(
        default_factory=list, description="Brand ids of competitors (must exist)."
    )
    owner: list[str] = Field(
        default_factory=list, description="People/teams alerts route to (string or list)."
    )
    context: list[str] = Field(
        default_factory=list,
        description="Terms (phrases, trailing '*' allowed) of which one must occur for gated surface forms.",
    )
    context_applies_to: list[SurfaceRule] = Field(
        default_factory=lambda: list(_DEFAULT_GATED),
        description="Surface-form rules that need context when 'context' is set.",
    )
    match_name: bool | None = Field(
        None, description="Match the name as a surface form (default: see class doc)."
    )
    query: str | None = Field(
        None, description="Optional boolean query (docs/brands.md); OR-ed with the surface forms."
    )
    sensitivity: SpikeSensitivity | None = Field(
        None, description="Optional negative-spike sensitivity for this brand (docs/spikes.md)."
    )

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(
                "id must be a lower-case slug: letters, digits, '_', '-', '.', at most 64 chars"
            )
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("name must not be blank")
        return v

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, v: Any) -> Any:
        if v is None:
            return []
        return [v] if isinstance(v, str) else v

    @field_validator("aliases", "misspellings", "competitors", "owner", "context", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("aliases", "misspellings", "owner")
    @classmethod
    def _strip(cls, v: list[str]) -> list[str]:
        return _clean_list(v, "list")

    @field_validator("handles", mode="before")
    @classmethod
    def _handles(cls, v: Any) -> Any:
        return _prefixed(v, "@", _HANDLE_RE, "handle")

    @field_validator("hashtags", mode="before")
    @classmethod
    def _hashtags(cls, v: Any) -> Any:
        return _prefixed(v, "#", _HASHTAG_RE, "hashtag")

    @field_validator("context")
    @classmethod
    def _context(cls, v: list[str]) -> list[str]:
        terms = _clean_list(v, "context")
        for t in terms:
            try:
                node = parse(f'"{t}"') if '"' not in t else None
            except QuerySyntaxError as exc:
                raise ValueError(f"context term {t!r}: {exc.message}") from None
            if node is None:
                raise ValueError(f"context term {t!r} must not contain '\"'")
        return terms

    @field_validator("query", mode="before")
    @classmethod
    def _blank_query(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _check(self) -> BrandConfig:
        if self.query is not None:
            try:
                ast = parse(self.query)
            except QuerySyntaxError as exc:
                raise ValueError(f"query for brand {self.id!r}: {exc.message}") from None
            if not has_anchor(ast):
                raise ValueError(
                    f"query for brand {self.id!r} can match posts without any of its terms "
                    "(e.g. only NOT, lang: or source:); add a term or an author: filter"
                )
        if self.id in self.competitors:
            raise ValueError(f"brand {self.id!r} lists itself as a competitor")
        if not self.surface_forms() and self.query is None:
            raise ValueError(
                f"brand {self.id!r} has nothing to match: set match_name, aliases, handles, hashtags or a query"
            )
        return self

    @property
    def name_is_matched(self) -> bool:
        if self.match_name is not None:
            return self.match_name
        others = self.aliases or self.misspellings or self.handles or self.hashtags
        return self.query is None or bool(others)

    def surface_forms(self) -> list[tuple[str, str]]:
        """``(text, rule)`` for every surface form, in rule-priority order."""
        forms: list[tuple[str, str]] = [(h, "handle") for h in self.handles]
        forms += [(h, "hashtag") for h in self.hashtags]
        if self.name_is_matched:
            forms.append((self.name, "name"))
        forms += [(a, "alias") for a in self.aliases]
        forms += [(m, "misspelling") for m in self.misspellings]
        return forms

    @cached_property
    def parsed_query(self) -> Node | None:
        """The query AST (validated at load time), or None."""
        return None if self.query is None else parse(self.query)


def tag_form(sign: str, text: str) -> str:
    """A name, alias or misspelling written as a tag, spaces removed: ``("@", "United")`` ->
    ``"@United"``, ``("#", "Windows Phone")`` -> ``"#WindowsPhone"`` (what the matcher also
    matches, and the handle a brand without listed handles owns)."""
    return sign + "".join(text.split())


def _prefixed(v: Any, prefix: str, pattern: re.Pattern[str], what: str) -> Any:
    if v is None:
        return []
    if not isinstance(v, list):
        return v  # pydantic reports the type error
    out: list[str] = []
    for item in v:
        s = str(item).strip()
        if s and not s.startswith(prefix):
            s = prefix + s
        if not pattern.match(s):
            raise ValueError(f"{what} {item!r} must be {prefix} followed by letters, digits or '_'")
        if s not in out:
            out.append(s)
    return out


def _format_errors(exc: ValidationError, where: str) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}{'.' + loc if loc else ''}: {msg}")
    return lines


def parse_brands(data: Any, source: str = "<brands>") -> list[BrandConfig]:
    """Validate an already-loaded brands document (``{"brands": [...]}`` or a bare list)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"brands"})
        if unknown:
            raise BrandConfigError(f"{source}: unknown top-level keys {unknown}; expected 'brands'")
        data = data.get("brands")
    if not isinstance(data, list):
        raise BrandConfigError(f"{source}: expected a 'brands:' list")
    problems: list[str] = []
    brands: list[BrandConfig] = []
    for i, item in enumerate(data):
        bid = item.get("id") if isinstance(item, dict) else None
        where = f"{source}: brands[{i}]" + (f" ({bid})" if bid else "")
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping, found {type(item).__name__}")
            continue
        try:
            brands.append(BrandConfig.model_validate(item))
        except ValidationError as exc:
            problems.extend(_format_errors(exc, where))
    seen: set[str] = set()
    for item in data:
        bid = item.get("id") if isinstance(item, dict) else None
        if isinstance(bid, str):
            if bid in seen:
                problems.append(f"{source}: duplicate brand id {bid!r}")
            seen.add(bid)
    for item in data:
        comps = item.get("competitors") if isinstance(item, dict) else None
        for c in comps if isinstance(comps, list) else []:
            if isinstance(c, str) and c not in seen:
                problems.append(
                    f"{source}: brand {item.get('id')!r}: unknown competitor id {c!r} "
                    f"(known ids: {', '.join(sorted(seen))})"
                )
    if problems:
        raise BrandConfigError("invalid brand config:\n  " + "\n  ".join(problems))
    return brands


def load_brands(path: str | Path) -> list[BrandConfig]:
    """Load and validate a brands YAML file; raise :class:`BrandConfigError` listing all problems."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BrandConfigError(f"{path}: cannot read brands file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BrandConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_brands(data, str(path))
