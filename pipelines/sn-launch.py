#!/usr/bin/python3
"""sn-launch.py - run a pipeline written as gst-launch-1.0 takes it, but
fail fast and say why instead of hanging: the runner of annotate-video.sh
and camera.sh.

    sn-launch.py [OPTIONS] PIPELINE-DESCRIPTION...
    sn-launch.py --probe FILE

What it adds to gst-launch-1.0:
  - a missing decoder (GstPbutils' missing-plugin message, which
    gst-launch-1.0 only prints before waiting forever) stops the run at
    once with the codec's name and the Debian package that provides it; an
    element missing from the description likewise names its package. An
    audio track nothing decodes is left out with a warning.
  - --check-complete FILE: at EOS, a video that ended well before the
    file's duration (a truncated or damaged file) is an error; everything
    written before stays written.
  - --reconnect: a live source (the element named "src") that fails or
    ends is restarted with backoff (0.5 s doubling to 10 s) and results
    continue; shufflenetjson elements then append. --stall-timeout S: no
    frame at shufflenet for S seconds counts as a failure (default 0: off).
    An error that is not the source's, or the source refusing the
    credentials, ends the run.
  - --stop-after N: EOS after N frames reached shufflenet.
  - source credentials without a command line: --source-user USER and
    the password from --source-password-file FILE (a file readable only
    by you) or $SHUFFLENET_CAMERA_PASSWORD are set on the source's
    user-id/user-pw properties; passwords in URLs are masked in
    everything printed.
  - --probe FILE prints what a file holds for the scripts (video=N
    audio=M duration=NS container=CAPS-NAME; audio=0 when its audio
    cannot be decoded) or fails with the reason and package hint.
  - an EOS asked for (--stop-after, Ctrl-C with -e) goes into shufflenet's
    sink pad and is waited for 10 s at most; a state change to NULL that
    hangs for 10 s ends the process.

Options: --prog NAME (prefix of its messages), -e (Ctrl-C sends EOS and
waits, as gst-launch-1.0 -e), -q (quiet). Exit status 0 at EOS, 1 on an
error, 2 for bad usage, 130 after Ctrl-C without -e.
"""
import argparse
import os
import re
import signal
import struct
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstPbutils", "1.0")
from gi.repository import GLib, Gst, GstPbutils  # noqa: E402

PROG = "sn-launch.py"
DEBIAN_MOST = ("gstreamer1.0-libav, gstreamer1.0-plugins-bad and "
               "gstreamer1.0-plugins-ugly hold most other decoders")

# The Debian 12 package that decodes (or demuxes) a format, by caps name
# and, where one name covers several codecs, a field; first match wins.
# pipelines/embed/sn-classify.{c,py} carry a subset (tests check they agree).
CODEC_PACKAGES = [
    ("video/x-h264", None, "gstreamer1.0-libav"),
    ("video/x-h265", None, "gstreamer1.0-libav"),
    ("video/mpeg", ("systemstream", True), "gstreamer1.0-plugins-bad"),
    ("video/mpeg", None, "gstreamer1.0-libav"),          # MPEG-1/2/4 video
    ("video/x-divx", None, "gstreamer1.0-libav"),
    ("video/x-xvid", None, "gstreamer1.0-libav"),
    ("video/x-msmpeg", None, "gstreamer1.0-libav"),
    ("video/x-h263", None, "gstreamer1.0-libav"),
    ("video/x-wmv", None, "gstreamer1.0-libav"),
    ("video/x-cinepak", None, "gstreamer1.0-libav"),
    ("video/x-prores", None, "gstreamer1.0-libav"),
    ("video/x-vp8", None, "gstreamer1.0-plugins-good"),
    ("video/x-vp9", None, "gstreamer1.0-plugins-good"),
    ("video/x-av1", None, "gstreamer1.0-plugins-bad"),
    ("video/x-theora", None, "gstreamer1.0-plugins-base"),
    ("image/jpeg", None, "gstreamer1.0-plugins-good"),
    ("image/png", None, "gstreamer1.0-plugins-good"),
    ("audio/mpeg", ("mpegversion", 1), "gstreamer1.0-plugins-good"),  # MP3
    ("audio/mpeg", None, "gstreamer1.0-libav"),          # AAC
    ("audio/x-ac3", None, "gstreamer1.0-libav"),
    ("audio/x-eac3", None, "gstreamer1.0-libav"),
    ("audio/x-wma", None, "gstreamer1.0-libav"),
    ("audio/x-vorbis", None, "gstreamer1.0-plugins-base"),
    ("audio/x-opus", None, "gstreamer1.0-plugins-base"),
    ("audio/x-alaw", None, "gstreamer1.0-plugins-good"),
    ("audio/x-mulaw", None, "gstreamer1.0-plugins-good"),
    ("video/quicktime", None, "gstreamer1.0-plugins-good"),
    ("video/x-matroska", None, "gstreamer1.0-plugins-good"),
    ("video/webm", None, "gstreamer1.0-plugins-good"),
    ("video/x-msvideo", None, "gstreamer1.0-plugins-good"),
    ("video/x-flv", None, "gstreamer1.0-plugins-good"),
    ("video/mpegts", None, "gstreamer1.0-plugins-bad"),
    ("application/ogg", None, "gstreamer1.0-plugins-base"),
]
# Elements the scripts name, by package.
ELEMENT_PACKAGES = {
    "x264enc": "gstreamer1.0-plugins-ugly",
    "h264parse": "gstreamer1.0-plugins-bad",
    "avenc_aac": "gstreamer1.0-libav",
    "mp4mux": "gstreamer1.0-plugins-good",
    "matroskamux": "gstreamer1.0-plugins-good",
    "webmmux": "gstreamer1.0-plugins-good",
    "avimux": "gstreamer1.0-plugins-good",
    "vp8enc": "gstreamer1.0-plugins-good",
    "jpegenc": "gstreamer1.0-plugins-good",
    "rtspsrc": "gstreamer1.0-plugins-good",
    "souphttpsrc": "gstreamer1.0-plugins-good",
    "v4l2src": "gstreamer1.0-plugins-good",
    "theoraenc": "gstreamer1.0-plugins-base",
    "vorbisenc": "gstreamer1.0-plugins-base",
    "opusenc": "gstreamer1.0-plugins-base",
    "oggmux": "gstreamer1.0-plugins-base",
}
# After asking for EOS (--stop-after, Ctrl-C with -e), how long to wait
# for it before stopping anyway; and how long stopping may take before the
# process exits without waiting (rtspsrc 1.22 was seen deadlocking in its
# state change to NULL after an EOS sent to it, 1 run in 20 with two busy
# cores; the sinks and shufflenetjson have stopped and written everything
# by then: a bin stops its sinks first).
EOS_WAIT_S = 10.0
STOP_WAIT_S = 10.0
URI_PACKAGES = {"rtsp": "gstreamer1.0-plugins-good",
                "http": "gstreamer1.0-plugins-good",
                "https": "gstreamer1.0-plugins-good"}

# scheme://user:password@ -> scheme://user:***@ (a password may hold '@').
SECRET_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s]*@")
SECRET_DEFAULT_ENV = "SHUFFLENET_CAMERA_PASSWORD"


def mask(text):
    return SECRET_RE.sub(r"\1***@", text) if text else text


def say(*words, err=True):
    print(f"{PROG}:", *(mask(str(w)) for w in words),
          file=sys.stderr if err else sys.stdout, flush=True)


def package_for_caps(caps):
    """The Debian package for GstCaps (or None)."""
    if caps is None or caps.get_size() == 0:
        return None
    s = caps.get_structure(0)
    for name, field, package in CODEC_PACKAGES:
        if s.get_name() != name:
            continue
        if field is None:
            return package
        ok, value = (s.get_boolean(field[0]) if isinstance(field[1], bool)
                     else s.get_int(field[0]))
        if ok and value == field[1]:
            return package
    return None


def fourcc_text(s):
    ok, v = s.get_int("fourcc")
    if not ok:
        ok, v = s.get_uint("fourcc")
    if not ok:
        return None
    chars = struct.pack("<I", v & 0xFFFFFFFF).decode("latin-1")
    return chars if chars.isprintable() else None


class Missing:
    """What a missing-plugin installer detail string says: type (decoder,
    encoder, element, urisource, urisink), its caps or name, the
    description and the package."""

    def __init__(self, detail, description=None):
        # gstreamer|1.0|APP|DESCRIPTION|TYPE-DETAIL
        parts = detail.split("|", 4)
        self.description = description or (parts[3] if len(parts) > 3
                                            else detail)
        what = parts[4] if len(parts) > 4 else ""
        self.kind, _, arg = what.partition("-")
        self.caps, self.package = None, None
        if self.kind in ("decoder", "encoder"):
            self.caps = Gst.Caps.from_string(arg)
            self.package = package_for_caps(self.caps)
        elif self.kind == "element":
            self.package = ELEMENT_PACKAGES.get(arg)
        elif self.kind in ("urisource", "urisink"):
            self.package = URI_PACKAGES.get(arg)

    def is_audio(self):
        return (self.caps is not None and self.caps.get_size() > 0
                and self.caps.get_structure(0).get_name().startswith("audio/"))

    def explain(self):
        """'no GStreamer decoder for H.264 is installed. Install ...'"""
        what = self.description
        for suffix in (" decoder", " encoder"):
            if what.endswith(suffix):
                what = what[:-len(suffix)]
        if self.caps is not None and self.caps.get_size() > 0:
            four = fourcc_text(self.caps.get_structure(0))
            if four:
                what += f" (codec tag '{four}')"
        if self.kind in ("decoder", "encoder"):
            text = f"no GStreamer {self.kind} for {what} is installed"
        else:
            text = f"GStreamer lacks {what}"
        if self.package:
            return (f"{text}. Install the Debian package {self.package} "
                    f"(sudo apt-get install {self.package})")
        return (f"{text}, and this script knows no Debian package that "
                f"provides one ({DEBIAN_MOST})")


def missing_of(message):
    detail = GstPbutils.missing_plugin_message_get_installer_detail(message)
    return Missing(detail or "",
                   GstPbutils.missing_plugin_message_get_description(message))


# ------------------------------------------------------------------------
# --probe

def probe(path):
    """Prints video=N audio=M for a file the scripts can classify; fails
    with the reason otherwise."""
    uri = Gst.filename_to_uri(os.path.abspath(path))
    disc = GstPbutils.Discoverer.new(20 * Gst.SECOND)
    loop = GLib.MainLoop()
    got = {}

    def discovered(_, info, error):
        got["info"], got["error"] = info, error

    disc.connect("discovered", discovered)
    disc.connect("finished", lambda _: loop.quit())
    disc.start()
    disc.discover_uri_async(uri)
    loop.run()
    disc.stop()
    info, error = got.get("info"), got.get("error")
    result = info.get_result() if info else None
    missing = [Missing(d) for d in
               (info.get_missing_elements_installer_details() if info else [])]
    streams = info.get_stream_list() if info else []
    video = [s for s in streams if isinstance(s, GstPbutils.DiscovererVideoInfo)
             and not s.is_image()]
    audio = [s for s in streams if isinstance(s, GstPbutils.DiscovererAudioInfo)]
    video_missing = [m for m in missing if not m.is_audio()]
    if result == GstPbutils.DiscovererResult.TIMEOUT:
        say(f"error: {path}: no answer from GStreamer within 20 s")
        return 1
    if video_missing:
        say(f"error: cannot decode {path}: {video_missing[0].explain()}")
        return 1
    if result not in (GstPbutils.DiscovererResult.OK,
                      GstPbutils.DiscovererResult.MISSING_PLUGINS):
        why = error.message if error else str(result)
        say(f"error: {path} is not a video GStreamer can read: {why}")
        return 1
    if not video:
        say(f"error: {path} has no video stream")
        return 1
    audio_ok = len(audio)
    for m in missing:
        say(f"warning: the audio of {path} is left out: {m.explain()}")
        audio_ok = 0
    top = info.get_stream_info()
    container = top.get_caps() if isinstance(
        top, GstPbutils.DiscovererContainerInfo) else None
    duration = info.get_duration()
    print(f"video={len(video)} audio={audio_ok} duration="
          f"{duration if duration != Gst.CLOCK_TIME_NONE else -1} container="
          f"{container.get_structure(0).get_name() if container else '-'}")
    return 0


# ------------------------------------------------------------------------
# Running a pipeline

def avi_header_duration(path):
    """Frames x frame time from an AVI's main header (avih), in ns, or None.
    avidemux rebuilds a missing index from what is left of a truncated
    file and then reports that length; the header keeps the original."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return None
    i = head.find(b"avih")
    if i < 0 or len(head) < i + 8 + 20:
        return None
    usec, _, _, _, frames = struct.unpack_from("<IIIII", head, i + 8)
    return frames * usec * 1000 if usec and frames else None


class Runner:
    def __init__(self, args, words):
        self.args, self.words = args, words
        self.loop = GLib.MainLoop()
        self.status = None            # exit status once decided
        self.frames = 0               # frames at shufflenet, all runs
        self.run_frames = 0           # this run's
        self.last_frame = 0.0         # monotonic time of the last frame
        self.last_end = -1            # pts + duration of the last frame (ns)
        self.expected = -1            # the input's duration (ns)
        self.eos_requested = False
        self.eos_deadline = None
        self.interrupted = False
        self.attempt = 0
        self.backoff = 0.5
        self.restart_source = None
        self.started = None
        self.pipeline = None
        self.password = None

    # -- building

    def build(self):
        try:
            pipeline = Gst.parse_launchv(self.words)
        except GLib.Error as e:
            m = re.search(r'no element "([^"]+)"', e.message)
            hint = ""
            if m:
                package = ELEMENT_PACKAGES.get(m.group(1))
                hint = (f": install the Debian package {package} (sudo "
                        f"apt-get install {package})" if package else
                        f" ({DEBIAN_MOST})")
            say(f"error: the pipeline cannot be built: {e.message}{hint}")
            sys.exit(1)
        if not isinstance(pipeline, Gst.Pipeline):
            outer = Gst.Pipeline.new(None)
            outer.add(pipeline)
            pipeline = outer
        self.pipeline = pipeline
        pipeline.connect("deep-element-added", self.on_element_added)
        it = pipeline.iterate_recurse()
        while True:
            ok, el = it.next()
            if ok != Gst.IteratorResult.OK:
                break
            self.on_element_added(pipeline, None, el)
        classifier = self.find("shufflenet")
        if classifier is not None:
            classifier.get_static_pad("sink").add_probe(
                Gst.PadProbeType.BUFFER, self.on_frame)
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        self.bus_handler = bus.connect("message", self.on_message)
        if self.attempt > 0:
            self.append_results()

    def teardown(self):
        bus = self.pipeline.get_bus()
        bus.disconnect(self.bus_handler)
        bus.remove_signal_watch()
        self.stop_pipeline(1)
        self.pipeline = None

    def stop_pipeline(self, status):
        """set_state(NULL), exiting with status if it hangs."""
        def stuck():
            say(f"error: the pipeline did not stop within {STOP_WAIT_S:g} s "
                "(a GStreamer element hangs in its state change); exiting")
            os._exit(status)
        timer = threading.Timer(STOP_WAIT_S, stuck)
        timer.daemon = True
        timer.start()
        self.pipeline.set_state(Gst.State.NULL)
        timer.cancel()

    def find(self, factory_name):
        it = self.pipeline.iterate_recurse()
        while True:
            ok, el = it.next()
            if ok != Gst.IteratorResult.OK:
                return None
            f = el.get_factory()
            if f is not None and f.get_name() == factory_name:
                return el

    def on_element_added(self, _bin, _sub, element):
        """Credentials on the source (rtspsrc, souphttpsrc), set here and
        never in the description, which GStreamer logs."""
        if self.args.source_user and self.password is not None:
            names = {p.name for p in element.list_properties()}
            if {"user-id", "user-pw"} <= names:
                element.set_property("user-id", self.args.source_user)
                element.set_property("user-pw", self.password)

    # -- running

    def on_frame(self, pad, info):
        if self.args.stop_after and self.frames >= self.args.stop_after:
            return Gst.PadProbeReturn.DROP  # in flight while EOS travels
        buf = info.get_buffer()
        self.frames += 1
        self.run_frames += 1
        self.last_frame = time.monotonic()
        if buf.pts != Gst.CLOCK_TIME_NONE:
            end = buf.pts + (buf.duration if buf.duration !=
                             Gst.CLOCK_TIME_NONE else 0)
            self.last_end = max(self.last_end, end)
        if self.run_frames == 1 and self.args.check_complete:
            ok, dur = pad.peer_query_duration(Gst.Format.TIME)
            if ok and dur > 0:
                self.expected = max(self.expected, dur)
        if (self.args.stop_after and self.frames >= self.args.stop_after
                and not self.eos_requested):
            self.eos_requested = True
            GLib.idle_add(self.send_eos)
        return Gst.PadProbeReturn.OK

    def send_eos(self):
        """EOS into shufflenet's sink pad when there is one: the source
        need not handle it (rtspsrc may deadlock when it does), the frames
        it still pushes are refused, and the rest of the pipeline drains."""
        if self.pipeline is not None:
            self.eos_deadline = time.monotonic() + EOS_WAIT_S
            classifier = self.find("shufflenet")
            if classifier is not None:
                classifier.get_static_pad("sink").send_event(
                    Gst.Event.new_eos())
            else:
                self.pipeline.send_event(Gst.Event.new_eos())
        return False

    def start(self):
        self.run_frames = 0
        self.started = time.monotonic()
        self.last_frame = self.started
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            # The element's error message follows on the bus.
            GLib.timeout_add(2000, self.finish_if_undecided, 1)
        return False

    def finish_if_undecided(self, status):
        if self.status is None:
            say("error: the pipeline failed to start")
            self.finish(status)
        return False

    def finish(self, status):
        if self.status is None:
            self.status = status
        self.loop.quit()

    def print_error(self, msg):
        err, debug = msg.parse_error()
        path = msg.src.get_path_string() if msg.src else "?"
        print(mask(f"ERROR: from element {path}: {err.message}"),
              file=sys.stderr)
        if debug:
            print(mask(f"Additional debug info:\n{debug}"), file=sys.stderr)
        return err

    def from_source(self, obj):
        """Is obj the source element (named src) or inside it?"""
        src = self.pipeline.get_by_name("src")
        while obj is not None:
            if obj == src:
                return True
            obj = obj.get_parent()
        return src is None

    def on_message(self, bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and \
                GstPbutils.is_missing_plugin_message(msg):
            m = missing_of(msg)
            if m.is_audio():
                say(f"warning: an audio track is left out: {m.explain()}")
                return
            what = self.args.check_complete or "the input"
            say(f"error: cannot decode {what}: {m.explain()}")
            self.finish(1)
        elif t == Gst.MessageType.ERROR:
            err = self.print_error(msg)
            if err.matches(Gst.core_error_quark(),
                           Gst.CoreError.MISSING_PLUGIN):
                # (decodebin's error at no-more-pads; its missing-plugin
                # message, if any, has said which package)
                say("error: a GStreamer plugin the input needs is missing "
                    f"({DEBIAN_MOST})")
                self.finish(1)
                return
            if err.matches(Gst.resource_error_quark(),
                           Gst.ResourceError.NOT_AUTHORIZED):
                say("error: the source refused the user name or password")
            if (self.args.reconnect and not self.eos_requested
                    and self.from_source(msg.src)
                    and not err.matches(Gst.resource_error_quark(),
                                        Gst.ResourceError.NOT_AUTHORIZED)):
                self.reconnect(f"source error: {err.message}")
            else:
                self.finish(1)
        elif t == Gst.MessageType.WARNING:
            err, debug = msg.parse_warning()
            if not self.args.quiet:
                print(mask(f"WARNING: from element "
                           f"{msg.src.get_path_string()}: {err.message}"),
                      file=sys.stderr)
        elif t == Gst.MessageType.INFO:
            err, debug = msg.parse_info()
            if not self.args.quiet:
                print(mask(f"INFO: {err.message}"), file=sys.stderr)
        elif t == Gst.MessageType.EOS:
            if self.args.reconnect and not self.eos_requested:
                self.reconnect("the source ended the stream")
            else:
                self.finish(self.check_complete())

    def check_complete(self):
        path = self.args.check_complete
        if not path:
            return 0
        header = avi_header_duration(path)
        expected = max(self.expected, header or -1)
        if expected <= 0 or self.last_end < 0:
            return 0
        short = expected - self.last_end
        if short > max(Gst.SECOND, expected // 10):
            say(f"error: {path} ended at {self.last_end / 1e9:.1f} s of its "
                f"{expected / 1e9:.1f} s: the file is truncated or damaged "
                f"(the results of the {self.frames} frames before are kept)")
            return 1
        return 0

    def reconnect(self, why):
        """Stops the pipeline and starts it again after the backoff."""
        if self.restart_source is not None:
            return
        if self.run_frames > 0 and time.monotonic() - self.started > 10:
            self.backoff = 0.5      # it had been running well
        self.attempt += 1
        if self.args.max_retries and self.attempt > self.args.max_retries:
            say(f"error: giving up after {self.args.max_retries} retries")
            self.finish(1)
            return
        delay = self.backoff
        self.backoff = min(self.backoff * 2, 10.0)
        say(f"the source was lost ({why}) after {self.run_frames} frames; "
            f"reconnecting in {delay:.1f} s (attempt {self.attempt})")
        # A new pipeline from the description: the delayed links of
        # dynamic pads (rtspsrc, decodebin) are made once per pipeline.
        self.teardown()
        self.restart_source = GLib.timeout_add(int(delay * 1000),
                                               self.restart)

    def append_results(self):
        """A restarted shufflenetjson appends to its file."""
        it = self.pipeline.iterate_recurse()
        while True:
            ok, el = it.next()
            if ok != Gst.IteratorResult.OK:
                break
            f = el.get_factory()
            if f is not None and f.get_name() == "shufflenetjson":
                el.set_property("append", True)

    def restart(self):
        self.restart_source = None
        if self.status is None:
            self.build()
            self.start()
        return False

    def watchdog(self):
        """A live source that stalls: no frame for stall_timeout seconds;
        an EOS asked for that does not come."""
        if (self.status is None and self.eos_deadline is not None
                and time.monotonic() > self.eos_deadline):
            say(f"warning: no end of stream {EOS_WAIT_S:g} s after asking "
                "for it: stopping the pipeline (the results are written)")
            self.finish(0)
        if (self.status is None and self.restart_source is None
                and self.args.stall_timeout > 0 and not self.eos_requested
                and time.monotonic() - self.last_frame
                > self.args.stall_timeout):
            if self.args.reconnect:
                self.reconnect(f"no frame for {self.args.stall_timeout:g} s")
            else:
                say(f"error: no frame for {self.args.stall_timeout:g} s: "
                    "the source stalled")
                self.finish(1)
        return True

    def on_sigint(self):
        if self.args.eos and not self.eos_requested and \
                self.restart_source is None:
            say("interrupt: sending EOS (Ctrl-C again to stop at once)")
            self.eos_requested = True
            self.send_eos()
        else:
            # Between reconnection attempts nothing is playing: stop now.
            self.interrupted = True
            self.finish(0 if self.args.eos and self.pipeline is None
                        else 130)
        return True

    def run(self):
        self.build()
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, self.on_sigint)
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM,
                             lambda: self.finish(143) or True)
        GLib.timeout_add(250, self.watchdog)
        GLib.idle_add(self.start)
        self.loop.run()
        if self.pipeline is not None:
            self.stop_pipeline(self.status)
        if self.status == 0 and not self.args.quiet:
            say(f"end of stream after {self.frames} frames", err=True)
        return self.status


def read_password(args):
    if args.source_password_file:
        path = args.source_password_file
        try:
            st = os.stat(path)
            if st.st_mode & 0o077:
                say(f"error: the password file {path} can be read or "
                    f"written by others (mode {st.st_mode & 0o777:03o}): "
                    "make it private with chmod 600")
                sys.exit(1)
            with open(path, encoding="utf-8") as f:
                pw = f.readline().rstrip("\r\n")
        except OSError as e:
            say(f"error: cannot read the password file {path}: {e.strerror}")
            sys.exit(1)
        if not pw:
            say(f"error: the password file {path} is empty")
            sys.exit(1)
        return pw
    return os.environ.get(SECRET_DEFAULT_ENV)


def main(argv):
    global PROG
    p = argparse.ArgumentParser(
        prog="sn-launch.py", description=__doc__.split("\n\n")[0],
        usage="%(prog)s [OPTIONS] PIPELINE-DESCRIPTION... | --probe FILE")
    p.add_argument("--prog", default=PROG)
    p.add_argument("--probe", metavar="FILE")
    p.add_argument("-e", dest="eos", action="store_true")
    p.add_argument("-q", dest="quiet", action="store_true")
    p.add_argument("--check-complete", metavar="FILE")
    p.add_argument("--reconnect", action="store_true")
    p.add_argument("--max-retries", type=int, default=0)
    p.add_argument("--stall-timeout", type=float, default=0.0)
    p.add_argument("--stop-after", type=int, default=0)
    p.add_argument("--source-user")
    p.add_argument("--source-password-file")
    p.add_argument("words", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    PROG = args.prog
    Gst.init(None)
    GstPbutils.pb_utils_init()
    if args.probe:
        return probe(args.probe)
    words = args.words[1:] if args.words[:1] == ["--"] else args.words
    if not words:
        p.error("no pipeline description")
    runner = Runner(args, words)
    runner.password = read_password(args)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
