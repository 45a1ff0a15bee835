#!/usr/bin/python3
"""End-to-end test of the tray menu, a second launch and start at login, on the real binaries.

On Linux the app is two processes: the window (APP_BIN, `sekia-desktop`), and the tray host it
starts (`sekia-tray` beside it: the daemon, the tray icon, notifications; no WebKit), which stays
when the window is closed. Linux trays deliver no clicks to the app: a panel shows the menu that
the tray host exports over D-Bus (a StatusNotifierItem with a com.canonical.dbusmenu menu) and
sends the user's choice back as an `Event(id, "clicked", ...)` call. This test is that panel: it
reads the exported menu and clicks its items exactly as a panel does, then checks what each
item must do.

Run under Xvfb and a private D-Bus session with a temporary HOME and XDG_RUNTIME_DIR
(scripts/desktop-test.sh does). Env: APP_BIN (the app), SEKIACTL (the CLI), OUT_DIR.
"""
import json
import logging
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import threading

import dbus
import dbus.mainloop.glib
import dbus.service
import gi

from gi.repository import GLib
from Xlib import X, display

APP_BIN = os.environ["APP_BIN"]
TRAY_BIN = str(Path(APP_BIN).with_name("sekia-tray"))
SEKIACTL = os.environ["SEKIACTL"]
OUT_DIR = Path(os.environ.get("OUT_DIR", "test-output"))
SOCKET = Path(os.environ["XDG_RUNTIME_DIR"]) / "sekia" / "sekiad.sock"
AUTOSTART = Path(os.environ["HOME"]) / ".config" / "autostart"
MENU_INTERFACE = "com.canonical.dbusmenu"
ITEM_INTERFACE = "org.kde.StatusNotifierItem"

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
# The tray finder asks every connection of the app; one that does not answer is skipped.
logging.getLogger("dbus.proxies").setLevel(logging.CRITICAL)
bus = dbus.SessionBus()
failed = 0


class Notifications(dbus.service.Object):
    """The desktop's notification server (org.freedesktop.Notifications), which this private
    session bus lacks: it records what the app asks to show."""

    def __init__(self):
        self.shown = []
        name = dbus.service.BusName("org.freedesktop.Notifications", bus)
        super().__init__(name, "/org/freedesktop/Notifications")

    @dbus.service.method("org.freedesktop.Notifications", in_signature="susssasa{sv}i",
                         out_signature="u")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):
        self.shown.append((str(summary), str(body)))
        return len(self.shown)

    @dbus.service.method("org.freedesktop.Notifications", out_signature="as")
    def GetCapabilities(self):
        return ["body"]

    @dbus.service.method("org.freedesktop.Notifications", out_signature="ssss")
    def GetServerInformation(self):
        return ("e2e", "sekia", "1", "1.2")

    @dbus.service.method("org.freedesktop.Notifications", in_signature="u")
    def CloseNotification(self, id_):
        pass


class Portal(dbus.service.Object):
    """The XDG desktop portal's Settings, which this private session bus lacks: it answers the
    desktop's colour scheme (`org.freedesktop.appearance` `color-scheme`: 1 dark, 2 light) and
    signals its changes, as the portal does when the user switches."""

    SETTINGS = "org.freedesktop.portal.Settings"

    def __init__(self, scheme):
        self.scheme = scheme
        name = dbus.service.BusName("org.freedesktop.portal.Desktop", bus)
        super().__init__(name, "/org/freedesktop/portal/desktop")

    def _value(self, namespace, key):
        if (namespace, key) != ("org.freedesktop.appearance", "color-scheme"):
            raise dbus.DBusException("not found", name="org.freedesktop.portal.Error.NotFound")
        return dbus.UInt32(self.scheme)

    @dbus.service.method(SETTINGS, in_signature="ss", out_signature="v")
    def ReadOne(self, namespace, key):
        return self._value(namespace, key)

    @dbus.service.method(SETTINGS, in_signature="ss", out_signature="v")
    def Read(self, namespace, key):
        return dbus.UInt32(self._value(namespace, key), variant_level=1)

    @dbus.service.signal(SETTINGS, signature="ssv")
    def SettingChanged(self, namespace, key, value):
        pass

    def switch(self, scheme):
        """The user picks another scheme (sent from the bus's main loop thread)."""
        self.scheme = scheme

        def emit():
            self.SettingChanged("org.freedesktop.appearance", "color-scheme", dbus.UInt32(scheme))
            return False
        GLib.idle_add(emit)


def brightness(argb):
    """Mean brightness (0 to 1) of the opaque pixels of an ARGB32 image (IconPixmap's format)."""
    lit = [sum(argb[i + 1:i + 4]) / 765 for i in range(0, len(argb), 4) if argb[i] > 200]
    return sum(lit) / len(lit)


def pids_of(binary):
    """Processes of `binary` that run with this test's XDG_RUNTIME_DIR."""
    mine = f"XDG_RUNTIME_DIR={os.environ['XDG_RUNTIME_DIR']}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/exe") != binary:
                continue
            # Short-lived helper runs are neither a window nor a tray host: the tray host's update
            # check (the window's binary) and the window asking the tray binary for the socket.
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"--check-updates" in args or b"--check-updates=auto" in args or b"--socket" in args:
                continue
            if mine in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def step(name, f):
    global failed
    try:
        f()
        print(f"ok - {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, then the next step runs
        failed += 1
        print(f"not ok - {name}: {e}", flush=True)


def until(what, f, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = f()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


def sekiactl(*args):
    return subprocess.run([SEKIACTL, *args], check=True, capture_output=True, text=True).stdout


def daemon_status():
    """The daemon's full status (with `paused`), through the socket's rpc as the UI asks for it."""
    out = subprocess.run(
        ["curl", "-sf", "--unix-socket", str(SOCKET), "-H", "content-type: application/json",
         "-d", '{"cmd":"status"}', "http://sekia/api/v1/rpc"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def visible_window(title):
    """Whether a mapped X11 window has this title (Xvfb runs no window manager)."""
    d = display.Display()
    try:
        def walk(w):
            try:
                if w.get_wm_name() == title and w.get_attributes().map_state == X.IsViewable:
                    return True
                return any(walk(c) for c in w.query_tree().children)
            except Exception:  # noqa: BLE001 - windows come and go while we walk
                return False
        return walk(d.screen().root)
    finally:
        d.close()


def expect_exit_0(code, what):
    if code != 0:
        raise AssertionError(f"{what} exited with {code}")


def expect_tray_hosts(want):
    if pids_of(TRAY_BIN) != want:
        raise AssertionError(f"tray hosts {pids_of(TRAY_BIN)}, want {want}")


def close_window(title):
    here = Path(__file__).parent
    subprocess.run(["/usr/bin/python3", str(here / "close-window.py"), title], check=True)


class Tray:
    """The app's tray item and menu, as a panel finds them on the session bus."""

    def __init__(self, pid):
        names = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        for name in names.ListNames(dbus_interface="org.freedesktop.DBus"):
            if not name.startswith(":"):
                continue
            try:
                owner = names.GetConnectionUnixProcessID(name, dbus_interface="org.freedesktop.DBus")
            except dbus.DBusException:
                continue
            if owner != pid:
                continue
            path = self._find(name, "/")
            if path:
                self.name, self.item_path = name, path
                item = bus.get_object(name, path)
                self.menu_path = str(item.Get(ITEM_INTERFACE, "Menu", dbus_interface=dbus.PROPERTIES_IFACE))
                self.menu = bus.get_object(name, self.menu_path)
                return
        raise LookupError("the app exports no StatusNotifierItem")

    def _find(self, name, path):
        try:
            xml = bus.get_object(name, path).Introspect(
                dbus_interface="org.freedesktop.DBus.Introspectable", timeout=2)
        except dbus.DBusException:
            return None
        node = ET.fromstring(xml)
        if any(i.get("name") == ITEM_INTERFACE for i in node.findall("interface")):
            return path
        for child in node.findall("node"):
            found = self._find(name, path.rstrip("/") + "/" + child.get("name"))
            if found:
                return found
        return None

    def items(self):
        """The menu's items, top to bottom: (id, label, properties)."""
        _revision, (_root, _props, children) = self.menu.GetLayout(
            0, -1, dbus.Array([], signature="s"), dbus_interface=MENU_INTERFACE)
        return [(int(c[0]), str(c[1].get("label", "")), dict(c[1])) for c in children]

    def labels(self):
        return [label for _, label, props in self.items() if props.get("type") != "separator"]

    def item(self, prefix):
        for id_, label, props in self.items():
            if label.replace("_", "").startswith(prefix):
                return id_, label, props
        raise LookupError(f"no menu item {prefix!r} in {self.labels()}")

    def click(self, prefix):
        id_, _, _ = self.item(prefix)
        self.menu.Event(dbus.Int32(id_), "clicked", dbus.Int32(0, variant_level=1),
                        dbus.UInt32(0), dbus_interface=MENU_INTERFACE)

    def icon(self):
        """The image the panel shows: the item's IconPixmap (ARGB32), the largest size given."""
        item = bus.get_object(self.name, self.item_path)
        pixmaps = item.Get(ITEM_INTERFACE, "IconPixmap", dbus_interface=dbus.PROPERTIES_IFACE)
        _w, _h, data = max(pixmaps, key=lambda p: int(p[0]) * int(p[1]))
        return bytes(data)


# The desktop's file opener, which this machine lacks: records what the app asks to open.
OPENER_DIR = Path(os.environ["HOME"]) / "e2e-bin"
OPENED = OPENER_DIR / "opened"


def launch():
    OPENER_DIR.mkdir(exist_ok=True)
    opener = OPENER_DIR / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{OPENED}"\n')
    opener.chmod(0o755)
    env = dict(os.environ, PATH=f"{OPENER_DIR}:{os.environ['PATH']}")
    log = open(OUT_DIR / "desktop-tray-app.log", "ab")
    return subprocess.Popen([APP_BIN], stdout=log, stderr=subprocess.STDOUT, env=env)


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    notifications = Notifications()
    portal = Portal(scheme=2)
    threading.Thread(target=GLib.MainLoop().run, daemon=True).start()
    app = launch()
    tray = None

    host = None

    def starts():
        nonlocal tray, host
        until("the window", lambda: visible_window("sekia"))
        until("the daemon's socket", SOCKET.exists)
        host = until("the tray host", lambda: pids_of(TRAY_BIN))[0]
        tray = until("the tray item", lambda: Tray(host))

    step("the app starts its window and the tray host, which shows the tray item", starts)
    if tray is None:
        app.kill()
        return

    def menu_has_every_action():
        labels = [label.replace("_", "") for label in tray.labels()]
        for want in ["sekia: ", "Open sekia", "Pause all workflows", "Open workflows folder",
                     "Start at login", "Quit sekia"]:
            if not any(label.startswith(want) for label in labels):
                raise AssertionError(f"{want!r} missing from {labels}")
        until("the status line to show the running daemon",
              lambda: "online" in tray.item("sekia: ")[1] and "today" in tray.item("sekia: ")[1])

    step("the menu has the status line and every action", menu_has_every_action)

    def log_file():
        logs = Path(os.environ["HOME"]) / ".local" / "share" / "ai.sekia.desktop" / "logs"
        log = logs / "sekia-tray.log"
        until("the daemon's start in the tray host's log file",
              lambda: log.exists() and "sekiad started" in log.read_text())
        until("the window's log file", lambda: (logs / "sekia.log").exists())
        if logs.stat().st_mode & 0o777 != 0o700:
            raise AssertionError(f"the log folder is {logs.stat().st_mode & 0o777:o}, want 700")
        if log.stat().st_mode & 0o777 != 0o600:
            raise AssertionError(f"the log file is {log.stat().st_mode & 0o777:o}, want 600")

    step("the app logs to files in its private log folder, the daemon's lines included", log_file)

    def icon_follows_the_colour_scheme():
        light = brightness(tray.icon())
        if light > 0.4:
            raise AssertionError(f"a light desktop wants the dark mark, brightness {light:.2f}")
        portal.switch(1)
        until("the mark for dark panels", lambda: brightness(tray.icon()) > 0.6)
        portal.switch(2)
        until("the mark for light panels again", lambda: brightness(tray.icon()) < 0.4)

    step("the icon follows the desktop's light/dark scheme (XDG settings portal)",
         icon_follows_the_colour_scheme)

    def status_line_counts_events():
        before = tray.item("sekia: ")[1]
        sekiactl("events", "publish", "--source", "e2e", "--type", "e2e.tray", "--payload", "{}")
        until("the status line to count the event", lambda: tray.item("sekia: ")[1] != before)
        if "1 event today" not in tray.item("sekia: ")[1]:
            raise AssertionError(tray.item("sekia: ")[1])

    step("the status line counts today's events", status_line_counts_events)

    def pause_and_resume():
        ok_icon = tray.icon()
        tray.click("Pause all workflows")
        until("the item to offer Resume", lambda: tray.item("Resume")[1])
        if daemon_status().get("paused") is not True:
            raise AssertionError("the daemon is not paused")
        until("the paused icon", lambda: tray.icon() != ok_icon)
        if "paused" not in tray.item("sekia: ")[1]:
            raise AssertionError(tray.item("sekia: ")[1])
        tray.click("Resume")
        until("the item to offer Pause again", lambda: tray.item("Pause all workflows")[1])
        if daemon_status().get("paused") is not False:
            raise AssertionError("the daemon is still paused")
        until("the ok icon again", lambda: tray.icon() == ok_icon)

    step("Pause all workflows / Resume pauses the daemon and changes the icon", pause_and_resume)

    def attention_icon():
        ok_icon = tray.icon()
        flows = Path(os.environ["HOME"]) / ".config" / "sekia" / "workflows"
        flows.mkdir(parents=True, exist_ok=True)
        broken = flows / "e2e-broken.lua"
        broken.write_text('sekia.on("sekia.events.e2e", function(event)\n'
                          '  if event.type == "e2e.fail" then error("boom from e2e") end\n'
                          'end)\n')
        sekiactl("workflows", "reload")
        for _ in range(5):
            sekiactl("events", "publish", "--source", "e2e", "--type", "e2e.fail", "--payload", "{}")
        until("the attention icon", lambda: tray.icon() != ok_icon)
        until("a notification", lambda: notifications.shown)
        time.sleep(3)  # what else would come of five failures
        if len(notifications.shown) != 1 or "boom from e2e" not in notifications.shown[0][1]:
            raise AssertionError(f"want one notification of the error, got {notifications.shown}")
        broken.unlink()
        sekiactl("workflows", "reload")
        until("the ok icon once the failing workflow is gone", lambda: tray.icon() == ok_icon)

    step("a failing workflow turns the icon to attention and notifies once; back when it is gone",
         attention_icon)

    def open_workflows_folder():
        tray.click("Open workflows folder")
        opened = until("the folder to be opened", lambda: OPENED.exists() and OPENED.read_text())
        want = Path(os.environ["HOME"]) / ".config" / "sekia" / "workflows"
        if opened.strip() != str(want) or not want.is_dir():
            raise AssertionError(f"opened {opened!r}, want {want}")

    step("Open workflows folder opens it in the file manager", open_workflows_folder)

    def start_at_login():
        tray.click("Start at login")
        entry = until("an autostart entry", lambda: next(AUTOSTART.glob("*.desktop"), None))
        text = entry.read_text()
        if "--hidden" not in text or "Exec=" not in text:
            raise AssertionError(f"autostart entry without --hidden: {text}")
        until("the check mark", lambda: tray.item("Start at login")[2].get("toggle-state") == 1)
        tray.click("Start at login")
        until("the autostart entry to go", lambda: not any(AUTOSTART.glob("*.desktop")))
        until("the check mark to clear", lambda: tray.item("Start at login")[2].get("toggle-state") == 0)

    step("Start at login writes and removes the login entry (started hidden)", start_at_login)

    def close_ends_the_window_process():
        close_window("sekia")
        until("the window to close", lambda: not visible_window("sekia"))
        expect_exit_0(app.wait(timeout=20), "the window's process")
        expect_tray_hosts([host])
        if json.loads(sekiactl("status", "--json")).get("status") != "ok":
            raise AssertionError("the daemon does not answer")
        # tauri-plugin-window-state kept the closed window's size and place for the next one.
        saved = Path(os.environ["HOME"]) / ".config" / "ai.sekia.desktop" / ".window-state.json"
        state = json.loads(until("the saved window state", lambda: saved.exists() and saved.read_text()))
        main = state.get("main") or {}
        if not (main.get("width", 0) > 0 and main.get("height", 0) > 0):
            raise AssertionError(f"window state without the main window's size: {state}")

    step("closing the window ends its process (its size and place kept); the tray host and its daemon stay",
         close_ends_the_window_process)

    def open_after_close():
        tray.click("Open sekia")
        until("a new window", lambda: visible_window("sekia"))
        until("the window's process", lambda: pids_of(APP_BIN))

    step("Open sekia brings back a closed window", open_after_close)

    def second_launch_focuses_the_first():
        first = pids_of(APP_BIN)
        expect_exit_0(launch().wait(timeout=20), "the second launch")
        until("the first window", lambda: visible_window("sekia"))
        if pids_of(APP_BIN) != first:
            raise AssertionError(f"window processes {pids_of(APP_BIN)}, want {first}")
        expect_tray_hosts([host])

    step("a second launch exits and leaves the running window and tray host",
         second_launch_focuses_the_first)

    def hidden_launch_starts_nothing_more():
        expect_exit_0(subprocess.run([APP_BIN, "--hidden"], timeout=20).returncode, "a login start")
        expect_tray_hosts([host])

    step("a login start (--hidden) with the tray host running exits at once",
         hidden_launch_starts_nothing_more)

    def quit_from_the_menu():
        tray.click("Quit sekia")
        until("the tray host to exit", lambda: not pids_of(TRAY_BIN))
        until("the window to go with it", lambda: not pids_of(APP_BIN))
        if SOCKET.exists():
            raise AssertionError(f"the socket {SOCKET} is still there")

    step("Quit sekia stops the daemon, removes the socket and closes the window", quit_from_the_menu)
    if app.poll() is None:
        app.kill()

    def login_start_runs_only_the_tray_host():
        expect_exit_0(subprocess.run([APP_BIN, "--hidden"], timeout=40).returncode, "a login start")
        until("the daemon's socket", SOCKET.exists)
        if pids_of(APP_BIN) or len(pids_of(TRAY_BIN)) != 1:
            raise AssertionError(f"windows {pids_of(APP_BIN)}, tray hosts {pids_of(TRAY_BIN)}")
        if visible_window("sekia"):
            raise AssertionError("a login start opened the window")
        os.kill(pids_of(TRAY_BIN)[0], 15)
        until("the tray host to exit on SIGTERM", lambda: not pids_of(TRAY_BIN))
        if SOCKET.exists():
            raise AssertionError(f"the socket {SOCKET} is still there")

    step("a login start (--hidden) runs the tray host alone, without a window",
         login_start_runs_only_the_tray_host)


if __name__ == "__main__":
    main()
    print(f"# tray: {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
