#!/usr/bin/python3
"""An RTSP server for the tests: Debian's gst-rtsp-server (through GI)
serving an H.264 MP4 clip at rtsp://127.0.0.1:PORT/clip, each client from
the clip's start in real time, until killed. With --user, the clip needs
basic authentication; the password comes from $RTSP_TEST_PASSWORD (never
the command line).

Usage: rtsp_server.py --port PORT --clip CLIP.mp4 [--user USER]
"""
import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clip", required=True)
    p.add_argument("--user")
    args = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{args.clip}" ! qtdemux ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )")
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(
            args.user, os.environ["RTSP_TEST_PASSWORD"]), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.new_empty("viewer"))
        perms.add_permission_for_role("viewer", "media.factory.access", True)
        perms.add_permission_for_role("viewer", "media.factory.construct",
                                      True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server.py: cannot listen on 127.0.0.1:{args.port}")
    print(f"rtsp_server.py: serving {args.clip} at "
          f"rtsp://127.0.0.1:{server.get_bound_port()}/clip", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
