# Shared helpers for scripts/run and scripts/test. Sourced, not executed.

say() { printf '==> %s\n' "$*" >&2; }

# Installs missing Debian/Ubuntu packages when root; otherwise prints the exact command and stops.
require_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ]; then
        say "installing system packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        say "installing system packages with sudo: ${missing[*]}"
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing system packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

# Swift is not an apt package on most releases; point at the official installer when it is absent.
require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin "$HOME/.local/share/swiftly/bin"; do
            [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH" && break
        done
    fi
    if ! command -v swift >/dev/null 2>&1; then
        echo "Swift 6 is required and was not found." >&2
        echo "Install it with swiftly: curl -O https://download.swift.org/swiftly/linux/swiftly-\$(uname -m).tar.gz && tar zxf swiftly-*.tar.gz && ./swiftly init" >&2
        exit 1
    fi
    say "using $(swift --version 2>/dev/null | head -1)"
}

# The release configuration every script uses, so one build serves the run command and the benchmarks.
# (-cross-module-optimization was tried and dropped: Edge got ~7 % faster but appserver hung at start; see
# docs/performance.md.)
# The Swift runtime and Foundation are linked in statically: calls into the runtime (retain/release on every
# request) become direct calls, and only the code used is mapped (measured: Edge -4 %, AppServer -8 % CPU per
# proxied request, Edge's idle RSS -6 MiB; docs/performance.md). The binaries then need no Swift on the host.
RELEASE_FLAGS=(-c release -Xswiftc -enforce-exclusivity=unchecked --static-swift-stdlib)

# A self-signed certificate for localhost in conf/dev/ (git-ignored), for the https listener of conf/edge.yaml.
# Real deployments point `tls.certificates` at their own files (docs/tls.md).
ensure_dev_certificate() {
    local dir="$ROOT/conf/dev"
    [ -f "$dir/cert.pem" ] && [ -f "$dir/key.pem" ] && return
    say "making a self-signed development certificate for localhost in conf/dev/"
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    chmod 600 "$dir/key.pem"
}
