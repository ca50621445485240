# Sourced by the scripts that debootstrap a Debian root file system (deploy/image/build.sh, the
# test images' testdata/pgimage/build.sh): mirror_from_apt prints the mirror apt uses here.

# The first Debian mirror apt uses here (any suite), from deb822 .sources files or a sources.list.
mirror_from_apt() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )(bookworm|trixie|bullseye|testing|sid|forky)( |$)/ && types ~ /deb( |$)/) { print uri; exit } uri=""; suites=""; types=""; next }
      /^Types:/  { sub(/^Types:[[:space:]]*/, ""); types=$0 }
      /^URIs:/   { sub(/^URIs:[[:space:]]*/, ""); split($0, u, " "); uri=u[1] }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites=$0 }
      END { if (uri != "" && suites ~ /(^| )(bookworm|trixie|bullseye|testing|sid|forky)( |$)/ && types ~ /deb( |$)/) print uri }
    ' "$f" | head -n 1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" && $0 ~ / (bookworm|trixie|bullseye) / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
}
