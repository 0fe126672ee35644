#!/usr/bin/env python3
"""tg-schema.py — derive tests/fake_tg/schema.json from the scraped Bot API.

    python3 scripts/tg-schema.py [../shared/telegram/api.json] [-o tests/fake_tg/schema.json]

The input is the Bot API documentation scraped into JSON (methods and types
with fields {name, types, required, description}). The output keeps only
what the fake server validates against: for each method its fields (name,
normalized type, required) and return type; for each type its fields, the
subtypes of a union type ("oneof") and, for a subtype, the constant value of
its discriminator field ("type": "default" for BotCommandScopeDefault), so a
union such as BotCommandScope can be matched strictly. No descriptions.

Type strings are normalized to: Integer, String, Boolean, Float, a type name,
"Array of X", "Array of Array of X", and unions joined with " or "
("Integer or String", "InputFile or String").

The output is deterministic (sorted, one method or type per line) so a newer
api.json shows up as a readable diff. stdlib only.
"""
import json
import os
import re
import sys

PRIMS = {
    "Integer": "Integer", "Int": "Integer",
    "String": "String",
    "Boolean": "Boolean", "True": "Boolean", "False": "Boolean",
    "Float": "Float", "Float number": "Float",
}

CONST_RE = re.compile(r'(?:always|must be)\s+[“"]?([A-Za-z0-9_]+)[”"]?')


def norm_one(t):
    """One alternative: 'Array of Array of X' keeps its nesting."""
    t = t.strip()
    if t.startswith("Array of "):
        return "Array of " + norm_one(t[len("Array of "):])
    return PRIMS.get(t, t)


def norm_types(types):
    out = []
    for t in types:
        for alt in re.split(r"\s+or\s+|\s*,\s*", t):
            n = norm_one(alt)
            if n and n not in out:
                out.append(n)
    return " or ".join(out)


def fields_of(obj):
    out = []
    for f in obj.get("fields", []) or []:
        out.append([f["name"], norm_types(f["types"]), bool(f.get("required"))])
    return out


def discriminator(typ):
    """For a union member: (field, constant) from 'always "x"' / 'must be x'."""
    for f in typ.get("fields", []) or []:
        if f["name"] in ("type", "status", "source"):
            m = CONST_RE.search(f.get("description", ""))
            if m:
                return f["name"], m.group(1)
        break
    return None


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(root, "..", "shared", "telegram", "api.json")
    dst = os.path.join(root, "tests", "fake_tg", "schema.json")
    args = argv[1:]
    i = 0
    while i < len(args):
        if args[i] == "-o" and i + 1 < len(args):
            dst = args[i + 1]
            i += 2
        elif args[i] in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            src = args[i]
            i += 1
    with open(src, encoding="utf-8") as fh:
        api = json.load(fh)

    version = api.get("version", "")
    if version and not version.startswith("Bot API"):
        version = "Bot API " + version

    methods = {}
    for name in sorted(api["methods"]):
        m = api["methods"][name]
        methods[name] = {"returns": norm_types(m.get("returns") or ["Boolean"]),
                         "fields": fields_of(m)}

    types = {}
    for name in sorted(api["types"]):
        t = api["types"][name]
        entry = {}
        if t.get("subtypes"):
            entry["oneof"] = list(t["subtypes"])
        else:
            entry["fields"] = fields_of(t)
        if t.get("subtype_of"):
            d = discriminator(t)
            if d:
                entry["const"] = {d[0]: d[1]}
        types[name] = entry

    def line(k, v):
        return "  " + json.dumps(k) + ": " + json.dumps(v, ensure_ascii=False,
                                                        separators=(",", ":"))

    parts = ["{",
             '"version": ' + json.dumps(version) + ",",
             '"release_date": ' + json.dumps(api.get("release_date", "")) + ",",
             '"generated_by": "scripts/tg-schema.py from api.json; do not edit",',
             '"methods": {',
             ",\n".join(line(k, v) for k, v in methods.items()),
             "},",
             '"types": {',
             ",\n".join(line(k, v) for k, v in types.items()),
             "}",
             "}"]
    text = "\n".join(parts) + "\n"
    json.loads(text)  # self-check
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write(text)
    print("%s: %d methods, %d types (%s)" % (dst, len(methods), len(types), version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
