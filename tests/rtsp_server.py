"""A real RTSP server for the stream tests: GStreamer's gst-rtsp-server serving one H.264
clip at rtsp://127.0.0.1:PORT/cam, in real time.

Runs under Debian's own Python (``/usr/bin/python3``), where the GObject bindings live
(packages python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/-bad):
    /usr/bin/python3 tests/rtsp_server.py CLIP.mp4 PORT
Prints "ready" once it listens.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[2])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( filesrc location={sys.argv[1]} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
