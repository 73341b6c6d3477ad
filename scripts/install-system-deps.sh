#!/usr/bin/env bash
# Debian packages the tests need, installed only where missing (needs root or sudo then):
# - mosquitto: a real MQTT broker each test starts on its own port;
# - GStreamer's RTSP server with GObject bindings for Debian's Python: a real RTSP camera
#   for the stream tests (tests/rtsp_server.py);
# - chromium: the browser Playwright drives headless for the console and worker page tests;
# - nginx-light: the compose file's reverse proxy, run with its config in front of a dispatcher;
# - fonts-wqy-microhei: a CJK font, for the evidence captions the edge draws in Chinese and for
#   the pages' screenshots in Chinese (no boxes for missing glyphs).
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 \
   || ! gst-inspect-1.0 h264parse >/dev/null 2>&1 || ! gst-inspect-1.0 qtdemux >/dev/null 2>&1; then
  need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
fi
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
