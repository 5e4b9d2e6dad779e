"""The google provider's schema, offline, from the jsii assembly of cdktf-cdktf-provider-google.

The PyPI package ``cdktf-cdktf-provider-google`` (pinned in requirements-tfschema.txt, installed
into ``.venv-tfschema`` by ``make tfschema-venv``) is generated from the provider's own schema: its
jsii assembly (``_jsii/provider-google@<v>.jsii.tgz`` → ``package/.jsii``) describes every resource
and data source as a config struct whose properties are the arguments (``optional`` unless
required) and whose struct-typed properties are nested blocks. Each property's docs link to the
registry anchor of its Terraform name (``…/docs/resources/<type>#<name>``), which gives the
snake_case name exactly as written in HCL.

``check_terraform`` walks every ``resource`` / ``data`` block parsed by python-hcl2 and reports
unknown arguments, missing required ones, and blocks written as attributes (or the reverse).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.infra_helpers import REPO_ROOT

TFSCHEMA_VENV = REPO_ROOT / ".venv-tfschema"
PROVIDER_VERSION = "6.50.0"  # the schema cdktf-cdktf-provider-google 16.12.1 was generated from

_TYPE_LINK = re.compile(r"docs/(resources|data-sources)/(\w+) (google_\w+)\}")
_ARG_ANCHOR = re.compile(r"docs/(?:resources|data-sources)/\w+#(\w+) ")
_PROVIDER_LINK = re.compile(r"registry\.terraform\.io/providers/hashicorp/google/([0-9.]+)/")

# Meta-arguments Terraform itself handles on every resource / data block (not provider schema).
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})
RESOURCE_ONLY_META = frozenset({"provisioner", "connection"})


@dataclass
class Block:
    """A schema block: arguments (name → required), nested blocks (name → (block, required))."""

    attributes: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, bool]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (cached next to the venv)."""
        return {
            "attributes": self.attributes,
            "blocks": {k: [b.to_json(), req] for k, (b, req) in self.blocks.items()},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Block:
        """Inverse of to_json."""
        return cls(
            attributes=dict(raw["attributes"]),
            blocks={k: (cls.from_json(b), bool(req)) for k, (b, req) in raw["blocks"].items()},
        )


@dataclass
class ProviderSchema:
    """Resource and data-source schemas of one provider version.

    ``resource_attrs`` / ``data_attrs``: what an expression may read from a resource or data
    source (arguments and computed attributes), nested for blocks: ``{name: None | {…}}``.
    """

    version: str
    resources: dict[str, Block]
    data_sources: dict[str, Block]
    resource_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)


def find_assembly(venv: Path = TFSCHEMA_VENV) -> Path | None:
    """The .jsii.tgz inside the installed wheel, or None when the venv is missing."""
    hits = sorted(
        venv.glob("lib/python*/site-packages/cdktf_cdktf_provider_google/_jsii/*.jsii.tgz")
    )
    return hits[-1] if hits else None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _struct_fqn(type_ref: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The provider struct a property is typed as (directly, in a list, or in a union), if any."""
    if "fqn" in type_ref:
        fqn = type_ref["fqn"]
        t = types.get(fqn)
        return fqn if t is not None and t.get("datatype") else None
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"], types)
    if "union" in type_ref:
        for option in type_ref["union"]["types"]:
            found = _struct_fqn(option, types)
            if found:
                return found
    return None


def _block(fqn: str, types: dict[str, Any], seen: tuple[str, ...] = ()) -> Block:
    block = Block()
    if fqn in seen:  # recursive schemas (rare) stop at the first repeat
        return block
    for prop in types[fqn].get("properties", []):
        remarks = prop.get("docs", {}).get("remarks", "")
        anchor = _ARG_ANCHOR.search(remarks)
        name = anchor.group(1) if anchor else _snake(prop["name"])
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"], types)
        if nested:
            block.blocks[name] = (_block(nested, types, (*seen, fqn)), required)
        else:
            block.attributes[name] = required
    return block


def _readable(fqn: str, types: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Attributes an expression can read from a resource class or an OutputReference."""
    out: dict[str, Any] = {}
    t = types.get(fqn)
    if t is None or depth > 8:
        return out
    for prop in t.get("properties", []):
        name = prop["name"]
        if prop.get("static") or name.endswith("Input") or name == "internalValue":
            continue
        out[_snake(name)] = _nested(prop["type"], types, depth)
    return out


def _nested(type_ref: dict[str, Any], types: dict[str, Any], depth: int) -> dict[str, Any] | None:
    fqn = type_ref.get("fqn", "")
    t = types.get(fqn)
    if t is None or not fqn.startswith("@cdktf/provider-google."):
        return None
    if fqn.endswith("OutputReference"):
        return _readable(fqn, types, depth + 1)
    getter = next((m for m in t.get("methods", []) if m["name"] == "get"), None)
    if getter is not None and "returns" in getter:  # a list block: element via get(index)
        return _nested(getter["returns"]["type"], types, depth)
    return None


def parse_assembly(assembly: dict[str, Any]) -> ProviderSchema:
    """Every resource / data source of the assembly as Blocks keyed by Terraform type name."""
    types: dict[str, Any] = assembly["types"]
    resources: dict[str, Block] = {}
    data_sources: dict[str, Block] = {}
    resource_attrs: dict[str, dict[str, Any]] = {}
    data_attrs: dict[str, dict[str, Any]] = {}
    version = ""
    for t in types.values():
        if t.get("kind") != "class" or "initializer" not in t:
            continue
        summary = t["initializer"].get("docs", {}).get("summary", "")
        link = _TYPE_LINK.search(summary)
        params = t["initializer"].get("parameters", [])
        if not link or len(params) < 3:
            continue
        pv = _PROVIDER_LINK.search(summary)
        version = version or (pv.group(1) if pv else "")
        kind, tf_type = link.group(1), link.group(3)
        block = _block(params[2]["type"]["fqn"], types)
        (resources if kind == "resources" else data_sources)[tf_type] = block
        (resource_attrs if kind == "resources" else data_attrs)[tf_type] = _readable(
            t["fqn"], types
        )
    return ProviderSchema(
        version=version,
        resources=resources,
        data_sources=data_sources,
        resource_attrs=resource_attrs,
        data_attrs=data_attrs,
    )


def load_schema(assembly_tgz: Path) -> ProviderSchema:
    """Parse the assembly once; later runs read a compact JSON cache kept beside it."""
    digest = hashlib.sha256(f"{assembly_tgz.stat().st_size}:{assembly_tgz}".encode()).hexdigest()
    cache = assembly_tgz.parent / f"tfschema-cache-v2-{digest[:16]}.json"
    if cache.is_file():
        raw = json.loads(cache.read_text(encoding="utf-8"))
        return ProviderSchema(
            version=raw["version"],
            resources={k: Block.from_json(v) for k, v in raw["resources"].items()},
            data_sources={k: Block.from_json(v) for k, v in raw["data_sources"].items()},
            resource_attrs=raw["resource_attrs"],
            data_attrs=raw["data_attrs"],
        )
    with tarfile.open(assembly_tgz, "r:gz") as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise FileNotFoundError(f"package/.jsii missing from {assembly_tgz}")
        assembly = json.load(member)
    schema = parse_assembly(assembly)
    cache.write_text(
        json.dumps(
            {
                "version": schema.version,
                "resources": {k: v.to_json() for k, v in schema.resources.items()},
                "data_sources": {k: v.to_json() for k, v in schema.data_sources.items()},
                "resource_attrs": schema.resource_attrs,
                "data_attrs": schema.data_attrs,
            }
        ),
        encoding="utf-8",
    )
    return schema


def _is_block_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def check_body(
    where: str, body: dict[str, Any], schema: Block, top: bool, resource: bool
) -> list[str]:
    """Problems of one (nested) block body against its schema block."""
    problems: list[str] = []
    present: set[str] = set()
    for key, value in body.items():
        if key.startswith("__"):
            continue
        if top and (key in META_ARGUMENTS or (resource and key in RESOURCE_ONLY_META)):
            continue
        if key == "dynamic":
            for dyn in value:
                for label, dyn_body in dyn.items():
                    name = _unquote(label)
                    present.add(name)
                    if name not in schema.blocks:
                        problems.append(f"{where}: dynamic {name!r} is not a block of this type")
                        continue
                    for content in dyn_body.get("content", []):
                        problems += check_body(
                            f"{where}.{name}", content, schema.blocks[name][0], False, resource
                        )
            continue
        present.add(key)
        if key in schema.attributes:
            if _is_block_list(value):
                problems.append(
                    f"{where}: {key!r} is an argument (write `{key} = ...`), not a block"
                )
        elif key in schema.blocks:
            if not _is_block_list(value):
                problems.append(
                    f"{where}: {key!r} is a block (write `{key} {{ ... }}`), not an argument"
                )
                continue
            for item in value:
                problems += check_body(
                    f"{where}.{key}", item, schema.blocks[key][0], False, resource
                )
        else:
            problems.append(f"{where}: unknown argument or block {key!r}")
    for name, required in schema.attributes.items():
        if required and name not in present:
            problems.append(f"{where}: required argument {name!r} is missing")
    for name, (_, required) in schema.blocks.items():
        if required and name not in present:
            problems.append(f"{where}: required block {name!r} is missing")
    return problems


def check_terraform(
    files: dict[str, dict[str, Any]], schemas: dict[str, ProviderSchema | dict[str, Block]]
) -> tuple[list[str], int]:
    """Check every resource / data block of parsed .tf files; returns (problems, blocks checked).

    ``schemas`` maps a type-name prefix (``google_``, ``time_``, ...) to a ProviderSchema or,
    for small providers described by hand, to ``{"resource.<type>" | "data.<type>": Block}``.
    """
    problems: list[str] = []
    checked = 0
    for filename, parsed in files.items():
        for section, resource in (("resource", True), ("data", False)):
            for entry in parsed.get(section, []):
                for rtype_q, named in entry.items():
                    rtype = _unquote(rtype_q)
                    prefix = rtype.split("_", 1)[0] + "_"
                    provider = schemas.get(prefix)
                    if provider is None:
                        problems.append(f"{filename}: no schema known for {section} {rtype}")
                        continue
                    if isinstance(provider, ProviderSchema):
                        table = provider.resources if resource else provider.data_sources
                        block = table.get(rtype)
                    else:
                        block = provider.get(f"{section}.{rtype}")
                    for name_q, body in named.items():
                        where = f"{filename}: {section} {rtype}.{_unquote(name_q)}"
                        if block is None:
                            problems.append(f"{where}: unknown {section} type {rtype}")
                            continue
                        checked += 1
                        problems += check_body(where, body, block, True, resource)
    return problems, checked


# <type>.<name>[key] followed by .attr / [index] steps, e.g.
# google_cloudfunctions2_function.function[each.key].service_config[0].uri
_REF = re.compile(
    r"(?<![\w.])(data\.)?(google_\w+)\.(\w+)((?:\[[^\]]*\])?)((?:\.\w+(?:\[[^\]]*\])?)*)"
)


def check_references(texts: dict[str, str], schema: ProviderSchema) -> tuple[list[str], int]:
    """Attribute reads (``resource.name.attr.nested``) that the provider does not expose."""
    problems: list[str] = []
    checked = 0
    for filename, text in texts.items():
        code = "\n".join(
            re.sub(r"\s#.*$", "", ln) for ln in text.splitlines() if not ln.lstrip().startswith("#")
        )
        for match in _REF.finditer(code):
            is_data, rtype, name, _, chain = match.groups()
            table = schema.data_attrs if is_data else schema.resource_attrs
            attrs: dict[str, Any] | None = table.get(rtype)
            if attrs is None or not chain:
                continue
            path = f"{'data.' if is_data else ''}{rtype}.{name}"
            for step in re.findall(r"\.(\w+)", chain):
                checked += 1
                if step not in attrs:
                    problems.append(f"{filename}: {path}: {rtype} has no attribute {step!r}")
                    break
                nested = attrs[step]
                if nested is None:
                    break  # a leaf (string, map, list of strings): keys/indices are data
                attrs, path = nested, f"{path}.{step}"
    return problems, checked
