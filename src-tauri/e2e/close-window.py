#!/usr/bin/python3
"""Asks the X11 window titled sys.argv[1] to close, as a window manager's close button does:
a WM_DELETE_WINDOW client message (Xvfb runs no window manager to send one)."""
import sys

from Xlib import X, display, protocol

title = sys.argv[1]
d = display.Display()
wm_protocols = d.intern_atom("WM_PROTOCOLS")
wm_delete = d.intern_atom("WM_DELETE_WINDOW")


def find(window):
    try:
        if window.get_wm_name() == title:
            return window
        for child in window.query_tree().children:
            found = find(child)
            if found:
                return found
    except Exception:
        return None
    return None


target = find(d.screen().root)
if target is None:
    sys.exit(f"no window titled {title!r}")
event = protocol.event.ClientMessage(
    window=target, client_type=wm_protocols, data=(32, [wm_delete, X.CurrentTime, 0, 0, 0])
)
target.send_event(event, event_mask=X.NoEventMask)
d.flush()
