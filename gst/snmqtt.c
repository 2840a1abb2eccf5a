/* snmqtt.c - the MQTT publisher of `shufflenetjson` (see snmqtt.h).
 *
 * Threads: the caller (streaming thread) appends to `queue` under `lock`
 * and writes the eventfd; everything that touches libmosquitto runs on the
 * publisher thread, which owns one `struct mosquitto` per connection
 * (destroyed when the connection goes, so that libmosquitto never keeps or
 * resends lines behind our back: the lines sent but not yet acknowledged
 * sit in `unacked` and go back to the head of the queue when the connection
 * is lost; at least once for QoS 1). Every line is at any time in exactly
 * one of: the queue, `unacked`, published, dropped.
 */
#include "snmqtt.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <mosquitto.h>

GST_DEBUG_CATEGORY_STATIC (sn_mqtt_debug);
#define GST_CAT_DEFAULT sn_mqtt_debug

/* Lines handed to libmosquitto and not yet acknowledged (QoS 1) or written
 * (QoS 0), per connection: bounds libmosquitto's own buffering. */
#define MAX_UNACKED 32
#define KEEPALIVE_S 10
#define CONNECT_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* Reconnect delays: 0.25 s doubling to 8 s, each +-20 % (a fleet's
 * publishers do not all come back in the same instant). */
#define BACKOFF_MIN_S 0.25
#define BACKOFF_MAX_S 8.0
/* How long the thread keeps sending DISCONNECT when asked to stop. */
#define DISCONNECT_WAIT_US (200 * 1000)

typedef struct
{
  gint mid;                     /* libmosquitto's message id */
  gchar *line;
} Unacked;

typedef enum
{
  LINK_DOWN,                    /* no connection; next attempt at next_attempt */
  LINK_CONNECTING,              /* socket open, waiting for CONNACK */
  LINK_UP
} LinkState;

struct _SnMqtt
{
  /* Set at creation, read-only afterwards */
  SnMqttUrl url;
  gchar *password;              /* effective password, NULL: none */
  gchar *ca_file;
  gint qos;
  guint queue_size;
  gchar *target;                /* host:port/topic */
  SnMqttNotify notify;
  gpointer user_data;
  int wake_fd;                  /* eventfd: a line was queued, or stop */
  GThread *thread;

  GMutex lock;
  GCond cond;                   /* signalled when lines leave queue/unacked */
  /* protected by lock */
  GQueue queue;                 /* gchar *, oldest first */
  GQueue unacked;               /* Unacked *, oldest first */
  guint64 dropped;
  guint64 published;
  gboolean stopping;
  gboolean fatal;
  gboolean first_done;          /* the first attempt's outcome is known, or
                                 * sn_mqtt_new stopped waiting for it */
  gchar *first_fatal;           /* the first attempt failed for good: why */

  /* Publisher thread only */
  struct mosquitto *mosq;
  LinkState link;
  gboolean ever_connected;
  gboolean outage_reported;
  gdouble backoff_s;
  gint64 next_attempt;          /* monotonic us */
  gint64 connect_started;
  gint connack;                 /* CONNACK code of the last attempt, -1: none */
  Unacked *publishing;          /* the line inside mosquitto_publish () */
  gchar *last_log_error;        /* libmosquitto's last error log line */
};

/* ------------------------------------------------------------------------ */
/* URLs */

gboolean
sn_mqtt_is_url (const gchar * location)
{
  return location != NULL && (g_ascii_strncasecmp (location, "mqtt://", 7) == 0
      || g_ascii_strncasecmp (location, "mqtts://", 8) == 0);
}

/* TRUE for "host", "host:port" (port all digits), "[v6]", "[v6]:port". */
static gboolean
plain_authority (const gchar * s, gsize len)
{
  const gchar *end = s + len, *colon;

  if (len == 0)
    return FALSE;
  if (s[0] == '[') {
    const gchar *close = memchr (s, ']', len);
    if (close == NULL)
      return FALSE;
    colon = close + 1 < end ? close + 1 : NULL;
    if (colon != NULL && *colon != ':')
      return FALSE;
  } else {
    colon = memchr (s, ':', len);
  }
  if (colon == NULL)
    return TRUE;
  if (colon + 1 == end)
    return FALSE;
  for (const gchar * p = colon + 1; p < end; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

gchar *
sn_url_mask_password (const gchar * url)
{
  const gchar *rest, *slash, *auth_end, *at = NULL, *colon;

  if (url == NULL)
    return NULL;
  rest = strstr (url, "://");
  if (rest == NULL)
    return g_strdup (url);
  rest += 3;
  slash = strchr (rest, '/');
  auth_end = slash != NULL ? slash : rest + strlen (rest);
  for (const gchar * p = rest; p < auth_end; p++)
    if (*p == '@')
      at = p;
  if (at == NULL) {
    /* No user info where a parser looks for it. A password holding a '/'
     * would have cut the authority short: unless the authority is a plain
     * host[:port], mask up to the last '@' anywhere. */
    if (plain_authority (rest, auth_end - rest))
      return g_strdup (url);
    at = strrchr (rest, '@');
    if (at == NULL)
      return g_strdup (url);
  }
  colon = memchr (rest, ':', at - rest);
  if (colon == NULL)
    return g_strdup (url);      /* a user name only */
  return g_strdup_printf ("%.*s***%s", (int) (colon + 1 - url), url, at);
}

static gboolean
url_error (GError ** error, const gchar * url, const gchar * why)
{
  gchar *masked = sn_url_mask_password (url);

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Invalid MQTT URL \"%s\": %s (expected mqtt[s]://[user[:password]@]"
      "host[:port]/topic)", masked, why);
  g_free (masked);
  return FALSE;
}

gboolean
sn_mqtt_url_parse (const gchar * url, SnMqttUrl * out, GError ** error)
{
  const gchar *rest, *slash, *at = NULL, *host, *host_end, *port = NULL;
  SnMqttUrl u = { 0 };

  memset (out, 0, sizeof (*out));
  if (!sn_mqtt_is_url (url))
    return url_error (error, url ? url : "", "not mqtt:// or mqtts://");
  u.tls = g_ascii_strncasecmp (url, "mqtts://", 8) == 0;
  rest = url + (u.tls ? 8 : 7);
  slash = strchr (rest, '/');
  if (slash == NULL || slash[1] == '\0')
    return url_error (error, url, "no topic");
  for (const gchar * p = rest; p < slash; p++)
    if (*p == '@')
      at = p;
  host = rest;
  if (at != NULL) {
    const gchar *colon = memchr (rest, ':', at - rest);
    if (colon == rest || at == rest)
      return url_error (error, url, "empty user name");
    u.user = g_strndup (rest, (colon != NULL ? colon : at) - rest);
    if (colon != NULL)
      u.password = g_strndup (colon + 1, at - colon - 1);
    host = at + 1;
  }
  if (host[0] == '[') {
    host_end = memchr (host, ']', slash - host);
    if (host_end == NULL || host_end == host + 1) {
      sn_mqtt_url_clear (&u);
      return url_error (error, url, "bad IPv6 address");
    }
    u.host = g_strndup (host + 1, host_end - host - 1);
    host_end++;
    if (host_end < slash && *host_end != ':') {
      sn_mqtt_url_clear (&u);
      return url_error (error, url, "bad IPv6 address");
    }
  } else {
    host_end = memchr (host, ':', slash - host);
    if (host_end == NULL)
      host_end = slash;
    u.host = g_strndup (host, host_end - host);
  }
  if (u.host[0] == '\0') {
    sn_mqtt_url_clear (&u);
    return url_error (error, url, "no host");
  }
  u.port = u.tls ? 8883 : 1883;
  if (host_end < slash) {       /* ":port" */
    guint64 v = 0;
    port = host_end + 1;
    if (port == slash) {
      sn_mqtt_url_clear (&u);
      return url_error (error, url, "empty port");
    }
    for (const gchar * p = port; p < slash; p++) {
      if (!g_ascii_isdigit (*p) || (v = v * 10 + (*p - '0')) > 65535) {
        sn_mqtt_url_clear (&u);
        return url_error (error, url, strchr (slash, '@') != NULL ?
            "the port is not a number 1-65535 (a password holding '/' "
            "cannot be given in the URL: use a password file or the "
            "environment)" : "the port is not a number 1-65535");
      }
    }
    if (v == 0) {
      sn_mqtt_url_clear (&u);
      return url_error (error, url, "the port is not a number 1-65535");
    }
    u.port = (guint) v;
  }
  u.topic = g_strdup (slash + 1);
  if (mosquitto_pub_topic_check (u.topic) != MOSQ_ERR_SUCCESS
      || mosquitto_validate_utf8 (u.topic, (int) strlen (u.topic)) !=
      MOSQ_ERR_SUCCESS) {
    sn_mqtt_url_clear (&u);
    return url_error (error, url, "the topic is not one to publish to (no "
        "'+' or '#' wildcards, valid UTF-8)");
  }
  *out = u;
  return TRUE;
}

void
sn_mqtt_url_clear (SnMqttUrl * url)
{
  g_free (url->host);
  g_free (url->user);
  if (url->password != NULL)
    memset (url->password, 0, strlen (url->password));
  g_free (url->password);
  g_free (url->topic);
  memset (url, 0, sizeof (*url));
}

gchar *
sn_read_secret_file (const gchar * path, GError ** error)
{
  GStatBuf st;
  gchar *text = NULL, *end;
  gsize len = 0;

  if (g_stat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
        "Cannot read the password file \"%s\": %s", path, g_strerror (e));
    return NULL;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > 4096) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "The password file \"%s\" is not a file of at most 4 KiB", path);
    return NULL;
  }
  if (st.st_mode & 077) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
        "The password file \"%s\" can be read or written by others (mode "
        "%03o): make it private with chmod 600", path,
        (guint) (st.st_mode & 0777));
    return NULL;
  }
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  end = text + strcspn (text, "\r\n");
  if (end == text) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "The password file \"%s\" is empty", path);
    memset (text, 0, len);
    g_free (text);
    return NULL;
  }
  memset (end, 0, len - (end - text));
  return text;
}

/* ------------------------------------------------------------------------ */
/* The publisher thread */

static void
notify (SnMqtt * m, SnMqttEvent event, const gchar * message)
{
  GST_DEBUG ("%s: event %d: %s", m->target, event, message);
  if (m->notify != NULL)
    m->notify (m->user_data, event, message);
}

static void
wake (SnMqtt * m)
{
  guint64 one = 1;

  if (write (m->wake_fd, &one, sizeof (one)) < 0 && errno != EAGAIN)
    GST_WARNING ("eventfd write: %s", g_strerror (errno));
}

static void
on_connect (struct mosquitto *mosq, void *obj, int rc)
{
  SnMqtt *m = obj;

  m->connack = rc;
}

/* A line went out: acknowledged (QoS 1) or written (QoS 0). */
static void
on_publish (struct mosquitto *mosq, void *obj, int mid)
{
  SnMqtt *m = obj;

  g_mutex_lock (&m->lock);
  for (GList * l = m->unacked.head; l != NULL; l = l->next) {
    Unacked *u = l->data;
    /* Inside mosquitto_publish (QoS 0 written at once) the line's mid is
     * not known yet: it is the one being published. */
    if (u->mid == mid || (u == m->publishing && u->mid == 0)) {
      g_queue_delete_link (&m->unacked, l);
      g_free (u->line);
      g_free (u);
      m->published++;
      g_cond_broadcast (&m->cond);
      break;
    }
  }
  g_mutex_unlock (&m->lock);
}

static void
on_log (struct mosquitto *mosq, void *obj, int level, const char *str)
{
  SnMqtt *m = obj;

  GST_LOG ("%s: libmosquitto: %s", m->target, str);
  if (level & MOSQ_LOG_ERR) {
    g_free (m->last_log_error);
    m->last_log_error = g_strdup (str);
  }
}

/* Drops the connection's libmosquitto instance; the lines it had not
 * acknowledged go back to the head of the queue, in order. */
static void
drop_connection (SnMqtt * m)
{
  if (m->mosq != NULL) {
    mosquitto_destroy (m->mosq);
    m->mosq = NULL;
  }
  g_mutex_lock (&m->lock);
  while (!g_queue_is_empty (&m->unacked)) {
    Unacked *u = g_queue_pop_tail (&m->unacked);
    g_queue_push_head (&m->queue, u->line);
    g_free (u);
  }
  g_mutex_unlock (&m->lock);
  m->link = LINK_DOWN;
}

static void
schedule_retry (SnMqtt * m)
{
  gdouble delay = m->backoff_s * g_random_double_range (0.8, 1.2);

  m->next_attempt = g_get_monotonic_time () + (gint64) (delay * 1e6);
  m->backoff_s = MIN (m->backoff_s * 2.0, BACKOFF_MAX_S);
}

/* The error is reported before publishing starts failing, so that the
 * caller's error message comes before any that its failure causes. */
static void
go_fatal (SnMqtt * m, const gchar * message)
{
  gboolean first;

  drop_connection (m);
  m->next_attempt = G_MAXINT64;
  g_mutex_lock (&m->lock);
  first = !m->first_done;
  if (first) {                  /* sn_mqtt_new returns it as its error */
    m->first_fatal = g_strdup (message);
    m->first_done = TRUE;
    m->fatal = TRUE;
    g_cond_broadcast (&m->cond);
  }
  g_mutex_unlock (&m->lock);
  if (first)
    return;
  notify (m, SN_MQTT_EVENT_FATAL, message);
  g_mutex_lock (&m->lock);
  m->fatal = TRUE;
  g_cond_broadcast (&m->cond);
  g_mutex_unlock (&m->lock);
}

/* The first attempt succeeded or failed for a reason worth retrying. */
static void
first_attempt_done (SnMqtt * m)
{
  g_mutex_lock (&m->lock);
  m->first_done = TRUE;
  g_cond_broadcast (&m->cond);
  g_mutex_unlock (&m->lock);
}

/* The connection failed or went away (@why: a libmosquitto code, or 0
 * with @detail). Reports it once per outage and schedules a retry. */
static void
went_down (SnMqtt * m, int why, const gchar * detail)
{
  gchar *reason;
  guint queued;

  if (detail != NULL)
    reason = g_strdup (detail);
  else if (why == MOSQ_ERR_ERRNO)
    reason = g_strdup (g_strerror (errno));
  else if (why == MOSQ_ERR_TLS && m->last_log_error != NULL)
    reason = g_strdup (m->last_log_error);
  else if (why == MOSQ_ERR_KEEPALIVE)
    reason = g_strdup ("the broker stopped answering");
  else if (g_str_has_prefix (mosquitto_strerror (why), "Unknown"))
    reason = g_strdup_printf ("libmosquitto error %d", why);
  else
    reason = g_strdup (mosquitto_strerror (why));
  g_strchomp (reason);
  if (reason[0] != '\0' && reason[strlen (reason) - 1] == '.')
    reason[strlen (reason) - 1] = '\0';        /* the message adds its own */

  /* TLS that never worked is a set-up problem (certificate, CA file, host
   * name), not an outage. */
  if (why == MOSQ_ERR_TLS && !m->ever_connected) {
    gchar *msg = g_strdup_printf ("TLS connection to the MQTT broker %s "
        "failed: %s", m->target, reason);
    go_fatal (m, msg);
    g_free (msg);
    g_free (reason);
    return;
  }
  drop_connection (m);
  schedule_retry (m);
  first_attempt_done (m);
  g_mutex_lock (&m->lock);
  queued = g_queue_get_length (&m->queue);
  g_mutex_unlock (&m->lock);
  GST_INFO ("%s: %s %s (queue %u); next try in %.2f s", m->target,
      m->ever_connected ? "connection lost:" : "cannot connect:", reason,
      queued, (m->next_attempt - g_get_monotonic_time ()) / 1e6);
  if (!m->outage_reported) {
    gchar *msg = g_strdup_printf ("%s the MQTT broker %s: %s. Retrying "
        "with backoff; up to %u lines wait, older ones are dropped",
        m->ever_connected ? "Lost the connection to" : "Cannot connect to",
        m->target, reason, m->queue_size);
    m->outage_reported = TRUE;
    notify (m, SN_MQTT_EVENT_DISCONNECTED, msg);
    g_free (msg);
  }
  g_free (reason);
}

static void
try_connect (SnMqtt * m)
{
  int rc;

  m->mosq = mosquitto_new (NULL, TRUE, m);
  if (m->mosq == NULL) {
    went_down (m, MOSQ_ERR_NOMEM, NULL);
    return;
  }
  mosquitto_connect_callback_set (m->mosq, on_connect);
  mosquitto_publish_callback_set (m->mosq, on_publish);
  mosquitto_log_callback_set (m->mosq, on_log);
  mosquitto_int_option (m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
  if (m->url.user != NULL)
    mosquitto_username_pw_set (m->mosq, m->url.user, m->password);
  if (m->url.tls) {
    rc = m->ca_file != NULL ?
        mosquitto_tls_set (m->mosq, m->ca_file, NULL, NULL, NULL, NULL) :
        mosquitto_int_option (m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      gchar *msg = g_strdup_printf ("Cannot set up TLS for the MQTT broker "
          "%s: %s", m->target, mosquitto_strerror (rc));
      go_fatal (m, msg);
      g_free (msg);
      return;
    }
  }
  m->connack = -1;
  g_clear_pointer (&m->last_log_error, g_free);
  errno = 0;
  rc = mosquitto_connect_async (m->mosq, m->url.host, (int) m->url.port,
      KEEPALIVE_S);
  if (rc != MOSQ_ERR_SUCCESS) {
    went_down (m, rc, rc == MOSQ_ERR_EAI ? "cannot resolve the host name"
        : NULL);
    return;
  }
  m->link = LINK_CONNECTING;
  m->connect_started = g_get_monotonic_time ();
}

/* CONNACK arrived (m->connack >= 0). */
static void
handle_connack (SnMqtt * m)
{
  gint code = m->connack;

  m->connack = -1;
  if (code == 0) {
    gchar *msg;
    m->link = LINK_UP;
    m->backoff_s = BACKOFF_MIN_S;
    msg = g_strdup_printf ("%s the MQTT broker %s",
        m->ever_connected ? "Reconnected to" : "Connected to", m->target);
    m->ever_connected = TRUE;
    m->outage_reported = FALSE;
    first_attempt_done (m);
    notify (m, SN_MQTT_EVENT_CONNECTED, msg);
    g_free (msg);
  } else if (code == 4 || code == 5) {
    /* Bad user name or password / not authorised: retrying cannot help. */
    gchar *msg = g_strdup_printf ("The MQTT broker %s refused the "
        "connection: %s (user \"%s\")", m->target,
        mosquitto_connack_string (code), m->url.user ? m->url.user : "");
    go_fatal (m, msg);
    g_free (msg);
  } else {
    went_down (m, 0, mosquitto_connack_string (code));
  }
}

/* Hands queued lines to libmosquitto while fewer than MAX_UNACKED are out.
 * FALSE when the connection failed. */
static gboolean
send_some (SnMqtt * m)
{
  for (;;) {
    Unacked *u;
    gchar *line;
    int rc, mid = 0, saved_errno;

    g_mutex_lock (&m->lock);
    if (g_queue_get_length (&m->unacked) >= MAX_UNACKED
        || g_queue_is_empty (&m->queue)) {
      g_mutex_unlock (&m->lock);
      return TRUE;
    }
    line = g_queue_pop_head (&m->queue);
    u = g_new0 (Unacked, 1);
    u->line = line;
    /* In unacked before publishing: on_publish may run inside
     * mosquitto_publish (QoS 0: written at once). */
    g_queue_push_tail (&m->unacked, u);
    g_mutex_unlock (&m->lock);

    errno = 0;
    m->publishing = u;
    rc = mosquitto_publish (m->mosq, &mid, m->url.topic, (int) strlen (line),
        line, m->qos, false);
    saved_errno = errno;
    g_mutex_lock (&m->lock);
    m->publishing = NULL;
    if (g_queue_find (&m->unacked, u) != NULL)
      u->mid = mid;             /* else already acknowledged (freed) */
    g_mutex_unlock (&m->lock);
    if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET) {
      g_mutex_lock (&m->lock);
      if (g_queue_remove (&m->unacked, u)) {
        g_free (u->line);
        g_free (u);
        m->dropped++;
      }
      g_mutex_unlock (&m->lock);
      GST_WARNING ("%s: line too large for the broker, dropped", m->target);
    } else if (rc != MOSQ_ERR_SUCCESS) {
      errno = saved_errno;
      went_down (m, rc, NULL);
      return FALSE;
    }
  }
}

/* Sends DISCONNECT and waits briefly for it to leave. */
static void
disconnect (SnMqtt * m)
{
  gint64 until = g_get_monotonic_time () + DISCONNECT_WAIT_US;

  if (m->mosq == NULL || m->link != LINK_UP)
    return;
  if (mosquitto_disconnect (m->mosq) != MOSQ_ERR_SUCCESS)
    return;
  while (mosquitto_want_write (m->mosq) && g_get_monotonic_time () < until) {
    struct pollfd pfd = { mosquitto_socket (m->mosq), POLLOUT, 0 };
    if (pfd.fd < 0 || poll (&pfd, 1, 50) < 0
        || mosquitto_loop_write (m->mosq, 1) != MOSQ_ERR_SUCCESS)
      break;
  }
}

static gpointer
publisher_thread (gpointer data)
{
  SnMqtt *m = data;

  m->link = LINK_DOWN;
  m->backoff_s = BACKOFF_MIN_S;
  m->next_attempt = 0;
  m->connack = -1;

  for (;;) {
    struct pollfd fds[2];
    nfds_t n = 1;
    gint64 now = g_get_monotonic_time ();
    gint timeout_ms = 1000;
    gboolean stopping;

    g_mutex_lock (&m->lock);
    stopping = m->stopping;
    g_mutex_unlock (&m->lock);
    if (stopping)
      break;

    if (m->link == LINK_DOWN && now >= m->next_attempt)
      try_connect (m);
    if (m->link == LINK_UP)
      send_some (m);
    if (m->link == LINK_CONNECTING
        && now - m->connect_started > CONNECT_TIMEOUT_US)
      went_down (m, 0, "no answer within 10 s");

    fds[0].fd = m->wake_fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    if (m->link != LINK_DOWN && mosquitto_socket (m->mosq) >= 0) {
      fds[1].fd = mosquitto_socket (m->mosq);
      fds[1].events = POLLIN | (mosquitto_want_write (m->mosq) ? POLLOUT : 0);
      fds[1].revents = 0;
      n = 2;
    } else if (m->link == LINK_DOWN && m->next_attempt != G_MAXINT64) {
      timeout_ms = (gint) CLAMP ((m->next_attempt - now) / 1000 + 1, 0, 1000);
    }
    if (poll (fds, n, timeout_ms) < 0 && errno != EINTR) {
      GST_ERROR ("poll: %s", g_strerror (errno));
      g_usleep (10000);
      continue;
    }
    if (fds[0].revents & POLLIN) {
      guint64 v;
      if (read (m->wake_fd, &v, sizeof (v)) < 0 && errno != EAGAIN)
        GST_WARNING ("eventfd read: %s", g_strerror (errno));
    }
    if (n == 2 && m->link != LINK_DOWN) {
      int rc = MOSQ_ERR_SUCCESS, saved_errno;
      errno = 0;
      if (fds[1].revents & (POLLIN | POLLERR | POLLHUP))
        rc = mosquitto_loop_read (m->mosq, 1);
      if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write (m->mosq))
        rc = mosquitto_loop_write (m->mosq, 1);
      if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_misc (m->mosq);
      saved_errno = errno;
      if (m->connack >= 0)
        handle_connack (m);
      else if (rc != MOSQ_ERR_SUCCESS) {
        errno = saved_errno;
        went_down (m, rc, NULL);
      }
    }
  }

  disconnect (m);
  drop_connection (m);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The caller's side */

static gpointer
init_once (gpointer unused)
{
  GST_DEBUG_CATEGORY_INIT (sn_mqtt_debug, "snmqtt", 0,
      "shufflenetjson's MQTT publisher");
  mosquitto_lib_init ();
  return NULL;
}

SnMqtt *
sn_mqtt_new (const SnMqttSettings * settings, GError ** error)
{
  static GOnce once = G_ONCE_INIT;
  SnMqtt *m;
  SnMqttUrl url;
  gchar *password = NULL, *fatal;
  gint64 until;

  g_once (&once, init_once, NULL);
  g_return_val_if_fail (settings->qos == 0 || settings->qos == 1, NULL);
  g_return_val_if_fail (settings->queue_size >= 1, NULL);
  if (!sn_mqtt_url_parse (settings->url, &url, error))
    return NULL;
  if (url.tls && settings->ca_file != NULL
      && !g_file_test (settings->ca_file, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
        "The CA file \"%s\" does not exist or is not a file",
        settings->ca_file);
    sn_mqtt_url_clear (&url);
    return NULL;
  }

  if (url.password != NULL) {
    password = g_strdup (url.password);
  } else if (settings->password_file != NULL
      && settings->password_file[0] != '\0') {
    password = sn_read_secret_file (settings->password_file, error);
    if (password == NULL) {
      sn_mqtt_url_clear (&url);
      return NULL;
    }
  } else if (settings->password_env != NULL
      && g_getenv (settings->password_env) != NULL) {
    password = g_strdup (g_getenv (settings->password_env));
  }

  m = g_new0 (SnMqtt, 1);
  m->url = url;
  m->password = password;
  m->ca_file = g_strdup (settings->ca_file);
  m->qos = settings->qos;
  m->queue_size = settings->queue_size;
  m->notify = settings->notify;
  m->user_data = settings->user_data;
  m->target = g_strdup_printf (strchr (url.host, ':') ? "[%s]:%u/%s" :
      "%s:%u/%s", url.host, url.port, url.topic);
  g_mutex_init (&m->lock);
  g_cond_init (&m->cond);
  g_queue_init (&m->queue);
  g_queue_init (&m->unacked);
  m->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m->wake_fd < 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "eventfd: %s", g_strerror (errno));
    sn_mqtt_free (m, 0);
    return NULL;
  }
  m->thread = g_thread_try_new ("snmqtt", publisher_thread, m, error);
  if (m->thread == NULL) {
    sn_mqtt_free (m, 0);
    return NULL;
  }

  /* Wait (bounded) for the first attempt: a refusal for good (credentials,
   * TLS) becomes this function's error, before anything plays. */
  g_mutex_lock (&m->lock);
  until = g_get_monotonic_time () + (gint64) settings->first_wait_ms * 1000;
  while (!m->first_done && g_cond_wait_until (&m->cond, &m->lock, until));
  m->first_done = TRUE;         /* later outcomes are notified */
  fatal = g_steal_pointer (&m->first_fatal);
  g_mutex_unlock (&m->lock);
  if (fatal != NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_WRITE, fatal);
    g_free (fatal);
    sn_mqtt_free (m, 0);
    return NULL;
  }
  GST_INFO ("publishing to %s, QoS %d, queue %u", m->target, m->qos,
      m->queue_size);
  return m;
}

gboolean
sn_mqtt_publish (SnMqtt * m, gchar * line)
{
  gboolean was_empty;

  g_mutex_lock (&m->lock);
  if (m->fatal || m->stopping) {
    g_mutex_unlock (&m->lock);
    g_free (line);
    return FALSE;
  }
  while (g_queue_get_length (&m->queue) >= m->queue_size) {
    g_free (g_queue_pop_head (&m->queue));
    m->dropped++;
  }
  was_empty = g_queue_is_empty (&m->queue);
  g_queue_push_tail (&m->queue, line);
  g_mutex_unlock (&m->lock);
  /* A thread that is sending wakes up for the next line by itself. */
  if (was_empty)
    wake (m);
  return TRUE;
}

gboolean
sn_mqtt_flush (SnMqtt * m, guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean done;

  g_mutex_lock (&m->lock);
  while (!(done = g_queue_is_empty (&m->queue)
          && g_queue_is_empty (&m->unacked)) && !m->fatal
      && g_cond_wait_until (&m->cond, &m->lock, until));
  done = g_queue_is_empty (&m->queue) && g_queue_is_empty (&m->unacked);
  g_mutex_unlock (&m->lock);
  return done;
}

guint64
sn_mqtt_get_dropped (SnMqtt * m)
{
  guint64 v;

  g_mutex_lock (&m->lock);
  v = m->dropped;
  g_mutex_unlock (&m->lock);
  return v;
}

guint64
sn_mqtt_get_published (SnMqtt * m)
{
  guint64 v;

  g_mutex_lock (&m->lock);
  v = m->published;
  g_mutex_unlock (&m->lock);
  return v;
}

const gchar *
sn_mqtt_get_target (SnMqtt * m)
{
  return m->target;
}

guint64
sn_mqtt_free (SnMqtt * m, guint timeout_ms)
{
  guint64 dropped;

  if (m->thread != NULL) {
    if (timeout_ms > 0)
      sn_mqtt_flush (m, timeout_ms);
    g_mutex_lock (&m->lock);
    m->stopping = TRUE;
    g_mutex_unlock (&m->lock);
    wake (m);
    g_thread_join (m->thread);
  }
  /* What is left never reached the broker. */
  dropped = m->dropped + g_queue_get_length (&m->queue)
      + g_queue_get_length (&m->unacked);
  g_queue_clear_full (&m->queue, g_free);
  g_assert (g_queue_is_empty (&m->unacked));    /* drop_connection's job */
  if (m->wake_fd >= 0)
    close (m->wake_fd);
  g_mutex_clear (&m->lock);
  g_cond_clear (&m->cond);
  sn_mqtt_url_clear (&m->url);
  if (m->password != NULL)
    memset (m->password, 0, strlen (m->password));
  g_free (m->password);
  g_free (m->ca_file);
  g_free (m->target);
  g_free (m->last_log_error);
  g_free (m->first_fatal);
  g_free (m);
  return dropped;
}
