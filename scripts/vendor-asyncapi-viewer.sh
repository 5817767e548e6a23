#!/usr/bin/env bash
# Vendors the AsyncAPI project's document viewer (@asyncapi/react-component, its standalone
# browser bundle and stylesheet) into platform/assets/asyncapi-viewer/, gzipped, with its
# licences: the services serve it at {base}/asyncapi/ from their binaries, so nothing is fetched
# at run time. Run it to move to another version (npm checks the package's integrity), then
# commit the folder.
#   scripts/vendor-asyncapi-viewer.sh [VERSION]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=${1:-3.2.1}
target="$REPO_ROOT/platform/assets/asyncapi-viewer"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@asyncapi/react-component@$version" >/dev/null)
tar -xzf "$work"/asyncapi-react-component-"$version".tgz -C "$work"
rm -rf "$target" && mkdir -p "$target"
gzip -9 -n -c "$work/package/browser/standalone/index.js" >"$target/index.js.gz"
gzip -9 -n -c "$work/package/styles/default.min.css" >"$target/default.min.css.gz"
cp "$work/package/LICENSE" "$target/LICENSE"
cp "$work/package/browser/standalone/index.js.LICENSE.txt" "$target/THIRD-PARTY-LICENSES.txt"
echo "@asyncapi/react-component $version" >"$target/VERSION"
log "vendored @asyncapi/react-component $version into ${target#"$REPO_ROOT"/}"
