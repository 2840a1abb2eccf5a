"""Services the pipeline tests start themselves, on 127.0.0.1 at free
ports, and always stop (stop_all() runs at exit, also after a failure):
Debian's mosquitto broker with a config file the test writes, an MQTT
subscriber (python3-paho-mqtt), and an RTSP server (gst-rtsp-server
through GI, rtsp_server.py, in a process of its own so that a test can
kill it mid-stream and start it again).
"""
import atexit
import getpass
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pipetest as pt

HERE = os.path.dirname(os.path.abspath(__file__))
_running = []


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, log, timeout=10.0):
    """Waits until 127.0.0.1:port accepts connections; fails the test when
    proc exits or time runs out first."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            pt.fail(f"service exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pt.fail(f"nothing listens on port {port} after {timeout} s:\n{_tail(log)}")


def _tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


class Service:
    """A child process killed at exit if the test has not stopped it."""

    def __init__(self, argv, log, port):
        self.argv, self.log, self.port = argv, log, port
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        _running.append(self)
        wait_port(self.port, self.proc, self.log)
        return self

    def kill(self):
        """SIGKILL: the service vanishes mid-stream."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        if self in _running:
            _running.remove(self)


def stop_all():
    for s in list(_running):
        try:
            s.stop()
        except Exception as e:  # keep stopping the others
            print(f"stopping {s.argv[0]}: {e}", file=sys.stderr)


atexit.register(stop_all)
# A test killed by meson's timeout (SIGTERM) stops its services too.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


class Mosquitto(Service):
    """Debian's broker on 127.0.0.1 with a config file written here; conf
    lines in extra (password_file, persistence, TLS listener options)."""

    def __init__(self, tmp, name, extra=(), port=None):
        port = port or free_port()
        self.conf = f"{tmp}/{name}.conf"
        with open(self.conf, "w") as f:
            # As root mosquitto would switch to the user "mosquitto", which
            # cannot read the test's files; as anyone else "user" is ignored.
            f.write(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\n")
            f.write("".join(line + "\n" for line in extra))
            if not any(x.startswith("allow_anonymous") for x in extra):
                f.write("allow_anonymous true\n")
        super().__init__(["mosquitto", "-c", self.conf], f"{tmp}/{name}.log",
                         port)


class Subscriber:
    """An MQTT subscriber (paho) collecting the payloads of one topic, in
    arrival order. persistent: a fixed client id without clean session,
    so that a broker with persistence keeps its subscription and queues
    for it across a restart."""

    def __init__(self, port, topic, qos=1, user=None, password=None,
                 persistent=False, tls_ca=None):
        import paho.mqtt.client as mqtt
        self.messages, self.lock = [], threading.Lock()
        self.subscribed = threading.Event()
        self.topic, self.qos = topic, qos
        cid = f"sn-test-{os.getpid()}" if persistent else ""
        self.client = mqtt.Client(client_id=cid, clean_session=not persistent)
        if user:
            self.client.username_pw_set(user, password)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            pt.fail(f"subscriber: no SUBACK from the broker on port {port}")

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            client.subscribe(self.topic, self.qos)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append(msg.payload.decode("utf-8"))

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait_count(self, n, timeout):
        until = time.monotonic() + timeout
        while self.count() < n and time.monotonic() < until:
            time.sleep(0.05)
        return self.count()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class RtspServer(Service):
    """rtsp_server.py serving clip at rtsp://127.0.0.1:PORT/clip; with user,
    basic authentication (the password through the environment)."""

    def __init__(self, tmp, clip, port=None, user=None, password=None):
        port = port or free_port()
        argv = ["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"),
                "--port", str(port), "--clip", clip]
        if user:
            argv += ["--user", user]
        self.password = password
        super().__init__(argv, f"{tmp}/rtsp-{port}.log", port)
        self.url = f"rtsp://127.0.0.1:{port}/clip"

    def start(self):
        if self.password is not None:
            os.environ["RTSP_TEST_PASSWORD"] = self.password
        try:
            return super().start()
        finally:
            os.environ.pop("RTSP_TEST_PASSWORD", None)
