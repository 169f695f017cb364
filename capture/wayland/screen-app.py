#!/usr/bin/env python3
"""The terminal program of the headless Wayland test session (runs inside `foot`).

It gives the capture tests a screen they can reason about:
- a clock on row 2 that ticks every 0.2 s, unless the file $GLIMPSE_SESSION_DIR/pause exists
  (then nothing on the screen changes at all: the text cursor is hidden); while paused, creating
  the file `step` makes it tick once (and it removes the file); with the file `fast` it ticks every
  20 ms (for measurements);
- typed keys are echoed on row 4 and logged to typed.txt; Return ends a line: when it equals the
  contents of the file `expect`, the whole terminal turns magenta (#ff00ff), else red (#ff0000);
- a left click (xterm SGR mouse reporting) paints a 3x3-cell green (#00ff00) block centred on the
  clicked cell and logs "COL ROW" to clicks.txt; wheel notches are logged to wheel.txt ("up",
  "down").
It writes `ready` once it is drawing.
"""
import os
import select
import sys
import termios
import time
import tty

DIR = os.environ["GLIMPSE_SESSION_DIR"]
OUT = sys.stdout


def path(name):
    return os.path.join(DIR, name)


def log(name, text):
    with open(path(name), "a") as f:
        f.write(text + "\n")


def put(s):
    OUT.write(s)
    OUT.flush()


def tick():
    put("\x1b[2;1H " + time.strftime("%H:%M:%S") + ".%03d" % (int(time.time() * 1000) % 1000))


def draw_base(typed):
    put("\x1b[0m\x1b[2J\x1b[H glimpse headless test screen\x1b[4;1H typed: " + typed)


def fill(rgb):
    r, g, b = rgb
    put("\x1b[48;2;%d;%d;%dm\x1b[2J\x1b[0m" % (r, g, b))


def main():
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    # hide the text cursor, SGR mouse reporting for clicks
    put("\x1b[?25l\x1b[?1000h\x1b[?1006h")
    typed = ""
    draw_base(typed)
    open(path("ready"), "w").close()
    pending = b""
    next_tick = 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + (0.02 if os.path.exists(path("fast")) else 0.2)
                if not os.path.exists(path("pause")):
                    tick()
                elif os.path.exists(path("step")):
                    tick()
                    os.remove(path("step"))
            ready, _, _ = select.select([fd], [], [], max(0.0, next_tick - time.monotonic()))
            if not ready:
                continue
            pending += os.read(fd, 4096)
            pending, typed = handle_input(pending, typed)
    finally:
        put("\x1b[?1000l\x1b[?1006l\x1b[?25h")
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def handle_input(data, typed):
    """Consumes complete key presses and mouse reports from `data`; returns the rest and the line."""
    while data:
        if data.startswith(b"\x1b[<"):
            end = next((i for i, c in enumerate(data) if c in b"Mm"), -1)
            if end < 0:
                return data, typed  # incomplete report
            report, release = data[3:end].decode(), data[end:end + 1] == b"m"
            data = data[end + 1:]
            button, col, row = (int(v) for v in report.split(";"))
            if button in (64, 65):
                log("wheel.txt", "up" if button == 64 else "down")
            elif button == 0 and not release:
                log("clicks.txt", "%d %d" % (col, row))
                for dy in (-1, 0, 1):
                    put("\x1b[%d;%dH\x1b[48;2;0;255;0m   \x1b[0m" % (max(1, row + dy), max(1, col - 1)))
            continue
        if data.startswith(b"\x1b"):
            data = data[1:]  # other escape sequences are not part of the test
            continue
        ch, data = data[:1], data[1:]
        if ch in (b"\r", b"\n"):
            log("typed.txt", typed)
            try:
                expected = open(path("expect")).read().strip("\n")
            except OSError:
                expected = None
            fill((255, 0, 255) if typed == expected else (255, 0, 0))
            typed = ""
        elif ch in (b"\x7f", b"\x08"):
            typed = typed[:-1]
            put("\x1b[4;1H\x1b[2K typed: " + typed)
        elif ch >= b" ":
            typed += ch.decode("latin-1")
            put("\x1b[4;1H typed: " + typed)
    return data, typed


if __name__ == "__main__":
    main()
