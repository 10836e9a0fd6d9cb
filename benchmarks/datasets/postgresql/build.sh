#!/usr/bin/env bash
# Build the PostgreSQL 15 manual corpus (HTML pages) from Debian's postgresql-doc-15 package, for
# benchmarks/quality.py's `postgresql` set.  Usage: bash build.sh [OUTPUT_DIR]
# Writes OUTPUT_DIR/public/*.html and OUTPUT_DIR/sources.yaml; OUTPUT_DIR/public is rebuilt from
# scratch on every run.  Needs apt-get (root, or a sudo-less container as root): the package is
# fetched with `apt-get download`, never installed.
set -eu

out="${1:-postgresql-corpus}"
package="${PG_DOC_PACKAGE:-postgresql-doc-15}"

if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: must run as root (it calls apt-get download / apt-get update)" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

download() {
    (cd "$work" && apt-get -q -o APT::Sandbox::User=root download "$package")
}

echo "Downloading $package ..."
if ! download; then
    echo "apt-get download failed; running apt-get update and retrying ..." >&2
    if ! apt-get -q update || ! download; then
        echo "build.sh: could not download $package with apt-get." >&2
        echo "  Check that a Debian archive is reachable and listed in /etc/apt/sources.list(.d)." >&2
        exit 1
    fi
fi

deb="$(ls "$work"/"$package"_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
dpkg -x "$deb" "$work/x"
html="$(ls -d "$work"/x/usr/share/doc/postgresql-doc-*/html | head -n 1)"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/public"
mkdir -p "$out/public"
cp "$html"/*.html "$out/public/"
count="$(ls "$out/public" | wc -l)"

cat > "$out/sources.yaml" <<YAML
# PostgreSQL manual (HTML), Debian $package $version.
# Licensed under the PostgreSQL License.
sources:
  - name: postgresql-docs
    type: documents
    path: public
    audience: public
    url_base: https://www.postgresql.org/docs/15/
YAML

echo "$package $version: $count HTML pages in $out/public"
echo "sources file: $out/sources.yaml"
