# Sourced by capture/wayland-ci.sh and connect/wayland-ci.sh (from the workspace root): what both
# need to test on a real GNOME Wayland desktop without a GPU.

# The Debian 12 packages: mutter, PipeWire, WirePlumber, xdg-desktop-portal with its GNOME backend,
# foot, GStreamer's pipewiresrc for the independent grab, the PipeWire headers for pipewire-rs.
wayland_ci_packages=(mutter pipewire wireplumber xdg-desktop-portal xdg-desktop-portal-gnome dbus
    foot fonts-dejavu-core libgl1-mesa-dri python3-gi gir1.2-glib-2.0 libglib2.0-bin
    gstreamer1.0-pipewire gstreamer1.0-plugins-base gstreamer1.0-tools
    libpipewire-0.3-dev libclang-dev pkg-config)

# wayland_ci_install NAME: installs the packages that are missing (NAME prefixes the message).
wayland_ci_install() {
    local name=$1 pkg
    local missing=()
    for pkg in "${wayland_ci_packages[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        local sudo=()
        [ "$(id -u)" = 0 ] || sudo=(sudo)
        echo "$name: installing ${missing[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

# wayland_ci_session SECONDS OUT COMMAND: runs COMMAND (a shell command line) inside a fresh
# headless session (capture/wayland/headless-session.sh, logs in OUT) with GLIMPSE_REQUIRE_WAYLAND=1
# and GLIMPSE_ARTIFACTS=OUT, from the workspace root; the whole session is bounded by SECONDS.
# Returns COMMAND's status (or the timeout's).
wayland_ci_session() {
    local seconds=$1 out=$2 command=$3
    timeout --kill-after=10 "$seconds" \
        bash capture/wayland/headless-session.sh --out "$out" --run \
        "cd '$(pwd)' && export GLIMPSE_REQUIRE_WAYLAND=1 GLIMPSE_ARTIFACTS='$out' && $command"
}
