#!/usr/bin/env python3
"""check-compat-swagger.py PRINTER SWAGGER — holds ember-vmm's route table, body tables and
GET bodies (printed by compat-schemas) against Firecracker's OpenAPI file: every route exists,
every body table has exactly the documented fields, required fields, types and enum values, and
every GET body fits its response schema. Where Firecracker's code and its spec differ, the code
wins and the difference is listed below with the reason. stdlib + yaml only."""
import json
import re
import subprocess
import sys

import yaml


class Loader(yaml.SafeLoader):
    """YAML 1.1 reads Off/On as booleans (the logger level enum has "Off"): not here."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# (method, swagger path) served by Firecracker's code but absent from its spec
CODE_ONLY_ROUTES = {
    ("delete", "/drives/{}"), ("delete", "/pmem/{}"), ("delete", "/network-interfaces/{}"),
}
# MachineConfigUpdate: the PATCH body of the code has no required field (the spec reuses PUT's)
NO_REQUIRED_CHECK = {"MachineConfigUpdate"}
# enum values the spec lists that this x86_64 build does not take: V1N1 is aarch64-only
SPEC_ONLY_VALUES = {("cpu_template", "V1N1")}

failures = []


def fail(msg):
    failures.append(msg)


def resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].split("/")[-1]]
    return schema


def swagger_path(spec, route):
    path = "/" + route["path"] + ("/" + route["sub"] if route["sub"] else "")
    if not route["path_id"]:
        return path if path in spec["paths"] else None
    for p in spec["paths"]:
        if re.fullmatch(re.escape(path) + r"/\{[^}]+\}", p):
            return p
    return None


def body_schema(spec, path, method):
    for param in spec["paths"][path][method].get("parameters", []):
        if param.get("in") == "body":
            return resolve(spec, param["schema"])
    return None


def check_field(spec, where, f, prop):
    prop = resolve(spec, prop)
    want = prop.get("type", "object")
    got = "string" if f["type"] == "enum" else f["type"]
    if want != got:
        fail(f"{where}.{f['name']}: type {got}, spec says {want}")
    if f["type"] == "enum":
        mine = {v.lower() if f["icase"] else v for v in f["values"]}
        for v in prop.get("enum", []):
            key = v.lower() if f["icase"] else v
            if key not in mine and (f["name"], v) not in SPEC_ONLY_VALUES:
                fail(f"{where}.{f['name']}: spec value {v!r} not accepted")
    if f["type"] == "object":
        check_schema(spec, f"{where}.{f['name']}", f["sub"], prop)


def check_schema(spec, where, mine, theirs):
    props = theirs.get("properties", {})
    names = {f["name"] for f in mine["fields"]}
    for extra in sorted(names - set(props)):
        fail(f"{where}: field {extra!r} is not in the spec")
    for missing in sorted(set(props) - names):
        fail(f"{where}: spec field {missing!r} is not in the table")
    if mine["name"] not in NO_REQUIRED_CHECK:
        req = {f["name"] for f in mine["fields"] if f["required"]}
        if req != set(theirs.get("required", [])):
            fail(f"{where}: required {sorted(req)}, spec {sorted(theirs.get('required', []))}")
    for f in mine["fields"]:
        if f["name"] in props:
            check_field(spec, where, f, props[f["name"]])


def check_routes(spec, routes):
    for r in routes:
        path = swagger_path(spec, r)
        key = (r["method"].lower(), re.sub(r"\{[^}]+\}", "{}", path or ""))
        if path is None or r["method"].lower() not in spec["paths"][path]:
            if (r["method"].lower(), "/" + r["path"] + "/{}") not in CODE_ONLY_ROUTES:
                fail(f"route {r['method']} /{r['path']}: not in the spec")
            continue
        if key in CODE_ONLY_ROUTES:
            continue
        theirs = body_schema(spec, path, r["method"].lower())
        if (theirs is None) != (r["schema"] is None):
            fail(f"route {r['method']} {path}: body schema presence differs from the spec")
        elif theirs is not None:
            check_schema(spec, f"{r['method']} {path}", r["schema"], theirs)


def check_value(spec, where, value, schema):
    schema = resolve(spec, schema)
    if value is None:  # serde writes None as null; the spec has no nullable
        return
    kind = schema.get("type", "object")
    ok = {"object": dict, "array": list, "string": str, "boolean": bool}.get(kind)
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"{where}: {value!r} is not an integer")
    elif ok and not isinstance(value, ok):
        fail(f"{where}: {value!r} is not {kind}")
    if "enum" in schema and value not in schema["enum"]:
        fail(f"{where}: {value!r} not in {schema['enum']}")
    if kind == "array" and isinstance(value, list):
        for i, v in enumerate(value):
            check_value(spec, f"{where}[{i}]", v, schema["items"])
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        for k, v in value.items():
            if k not in props:
                fail(f"{where}: key {k!r} is not in the spec")
            else:
                check_value(spec, f"{where}.{k}", v, props[k])
        for k in schema.get("required", []):
            if k not in value:
                fail(f"{where}: required key {k!r} missing")


def check_gets(spec, gets):
    for path, body in gets.items():
        resp = spec["paths"][path]["get"]["responses"][200]["schema"]
        check_value(spec, f"GET {path}", body, resp)


def main():
    out = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
    mine = json.loads(out)
    with open(sys.argv[2]) as f:
        spec = yaml.load(f, Loader=Loader)
    check_routes(spec, mine["routes"])
    check_gets(spec, mine["gets"])
    for msg in failures:
        print("FAIL", msg)
    print(f"{len(mine['routes'])} routes, {len(mine['gets'])} GET bodies, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
