#!/usr/bin/env python3
"""check-fc-bodies.py PRINTER SWAGGER — validates every body fc-bodies prints against the
Firecracker OpenAPI (Swagger 2.0) file: the path and method exist, required fields are
present, no undocumented field, types, enums and integer bounds match. stdlib + yaml only."""
import json
import subprocess
import sys

import yaml


class Loader(yaml.SafeLoader):
    """YAML 1.1 reads Off/On/yes/no as booleans (the logger level enum has "Off");
    only true/false are booleans here."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    __import__("re").compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def resolve(spec, schema):
    while "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = spec["definitions"][name]
    return schema


def validate(spec, schema, value, where, errors):
    schema = resolve(spec, schema)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind and not TYPES[kind](value):
        errors.append(f"{where}: expected {kind}, got {json.dumps(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if kind == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
    if kind == "object":
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errors.append(f"{where}: required field {req!r} missing")
        for k, v in value.items():
            if k not in props:
                errors.append(f"{where}: undocumented field {k!r}")
            else:
                validate(spec, props[k], v, f"{where}.{k}", errors)
    if kind == "array" and "items" in schema:
        for i, v in enumerate(value):
            validate(spec, schema["items"], v, f"{where}[{i}]", errors)


def operation(spec, method, path):
    """Finds the operation for a concrete path, matching {param} segments."""
    want = path.strip("/").split("/")
    for tmpl, ops in spec["paths"].items():
        have = tmpl.strip("/").split("/")
        if len(have) == len(want) and all(
            h == w or (h.startswith("{") and h.endswith("}")) for h, w in zip(have, want)
        ):
            if method in ops:
                return tmpl, ops[method]
    return None, None


# Bodies the validator itself must refuse: proof that it checks something.
BAD = [
    ("put", "/machine-config", {"vcpu_count": 1}),
    ("put", "/machine-config", {"vcpu_count": 33, "mem_size_mib": 128}),
    ("put", "/actions", {"action_type": "Reboot"}),
    ("put", "/vsock", {"guest_cid": 3, "uds_path": "/v.sock", "extra": 1}),
    ("put", "/drives/rootfs", {"drive_id": "rootfs", "is_root_device": "no"}),
    ("put", "/logger", {"level": "Loud"}),
]


def self_check(spec):
    missed = []
    for method, path, body in BAD:
        errors = []
        _, op = operation(spec, method, path)
        schema = [p for p in op["parameters"] if p.get("in") == "body"][0]["schema"]
        validate(spec, schema, body, path, errors)
        if not errors:
            missed.append(f"validator accepted a bad body for {path}: {body}")
    return missed


def main():
    printer, swagger = sys.argv[1], sys.argv[2]
    with open(swagger) as f:
        spec = yaml.load(f, Loader=Loader)
    if "Off" not in spec["definitions"]["Logger"]["properties"]["level"]["enum"]:
        print("FAIL the YAML loader turned the logger level 'Off' into a boolean")
        return 1
    missed = self_check(spec)
    for m in missed:
        print("FAIL", m)
    if missed:
        return 1
    out = subprocess.run([printer], check=True, capture_output=True, text=True).stdout
    errors, count = [], 0
    for line in out.splitlines():
        call = json.loads(line)
        where = f"{call['method'].upper()} {call['path']}"
        tmpl, op = operation(spec, call["method"], call["path"])
        if not op:
            errors.append(f"{where}: no such operation in the spec")
            continue
        body_params = [p for p in op.get("parameters", []) if p.get("in") == "body"]
        if len(body_params) != 1:
            errors.append(f"{where}: the spec has no body for this operation")
            continue
        body = call["body"]
        validate(spec, body_params[0]["schema"], body, where, errors)
        # path ids must equal the body's id field (Firecracker checks it)
        for seg_t, seg in zip(tmpl.strip("/").split("/"), call["path"].strip("/").split("/")):
            if seg_t.startswith("{"):
                key = seg_t[1:-1]
                if body.get(key) != seg:
                    errors.append(f"{where}: body {key!r} != path id {seg!r}")
        count += 1
    for e in errors:
        print("FAIL", e)
    print(f"check-fc-bodies: {count} bodies, {len(errors)} errors")
    if count == 0:
        print("FAIL no bodies printed")
    return 1 if errors or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
