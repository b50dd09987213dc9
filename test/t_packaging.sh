#!/bin/bash
# Packaging: META.json (PGXN) is valid and agrees with the control file, and
# every script it and the control file name exists.  The upgrade path itself
# is tested by sql/upgrade.sql; touches no server.
set -euo pipefail
cd "$(dirname "$0")/.."

"$PYTHON" - <<'PY'
import json, os, re, sys

control = open("checkpoint_perms.control").read()
default = re.search(r"^default_version = '([^']+)'", control, re.M).group(1)
meta = json.load(open("META.json"))
errors = []

def semver(v):
    # PGXN wants three numbers; the control file's "1.1" is "1.1.0"
    parts = v.split(".")
    return ".".join(parts + ["0"] * (3 - len(parts)))

for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    if key not in meta:
        errors.append("META.json has no %r" % key)
if meta.get("name") != "checkpoint_perms":
    errors.append("META.json name is %r" % meta.get("name"))
if meta.get("version") != semver(default):
    errors.append("META.json version %r does not match default_version %r of the control file"
                  % (meta.get("version"), default))
ext = meta.get("provides", {}).get("checkpoint_perms", {})
if ext.get("version") != semver(default):
    errors.append("META.json provides checkpoint_perms %r, the control file %r" % (ext.get("version"), default))
if ext.get("file") != "src/checkpoint_perms--%s.sql" % default:
    errors.append("META.json provides file %r, not the full script of %s" % (ext.get("file"), default))
for f in (ext.get("file"), ext.get("docfile"), "src/checkpoint_perms--%s.sql" % default):
    if f and not os.path.exists(f):
        errors.append("%s does not exist" % f)
if not re.search(r"^comment = '%s'" % re.escape(meta.get("abstract", "")), control, re.M):
    errors.append("META.json abstract differs from the control file's comment")

for e in errors:
    print(e)
if errors:
    sys.exit(1)
print("META.json agrees with checkpoint_perms.control (%s)" % default)
PY
