"""A stand-in chat window for the desktop agent's end-to-end test (tests/e2e/agent_desktop.rs).

Usage: chat_window.py TITLE PANEL_PNG SENT_FILE

Shows PANEL_PNG (a chat panel the test drew) at the top-left of the screen under the
window title TITLE, with an input line below it. Each time Enter is pressed in the input,
its text is appended to SENT_FILE as one line and the input is cleared: what a chat
client would send. SENT_FILE.ready is written once the window is on screen.
"""

import sys
import tkinter as tk

title, panel_path, sent_path = sys.argv[1:4]

root = tk.Tk()
root.title(title)
root.geometry("480x480+0+0")
panel = tk.PhotoImage(file=panel_path)
tk.Label(root, image=panel, borderwidth=0, highlightthickness=0).place(x=0, y=0)
entry = tk.Entry(root)
entry.place(x=0, y=440, width=480, height=30)
entry.focus_set()


def send(_event):
    with open(sent_path, "a", encoding="utf-8") as sent:
        sent.write(entry.get() + "\n")
    entry.delete(0, "end")


def ready():
    with open(sent_path + ".ready", "w", encoding="utf-8") as marker:
        marker.write("ready\n")


entry.bind("<Return>", send)
root.after(300, ready)
root.mainloop()
