/*
 * test_config_server.c - tsloop.yaml's server: section (config_server.c): every key read,
 * defaults left unset, strict errors with positions, listen addresses (IPv4, [IPv6]), TLS files
 * in pairs, and the section kept out of the normalised text and the hash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tsloop/buf.h"
#include "tsloop/config.h"

static const char head[] = "version: 1\nname: p\n";

static tsl_err parse(const char *server, tsl_config **cfg, tsl_diag *d) {
    char text[2048];
    snprintf(text, sizeof text, "%s%s", head, server);
    return tsl_config_parse(text, strlen(text), "tsloop.yaml", NULL, cfg, d);
}

static void test_all_keys(void **state) {
    (void)state;
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(parse("server:\n"
                           "  listen: \"[::1]:9000\"\n"
                           "  threads: 4\n"
                           "  workers: 2\n"
                           "  pipeline_workers: 0\n"
                           "  max_body: 4096\n"
                           "  max_items: 10\n"
                           "  max_horizon: 48\n"
                           "  max_header: 8192\n"
                           "  idle_timeout: 5\n"
                           "  request_time: 7\n"
                           "  tls: {cert: tls/cert.pem, key: tls/key.pem}\n"
                           "  output_dir: output-forecasted-data\n",
                           &cfg, &d),
                     TSL_OK);
    const tsl_config_server *s = &cfg->server;
    assert_string_equal(s->host, "::1");
    assert_int_equal(s->port, 9000);
    assert_int_equal(s->threads, 4);
    assert_int_equal(s->workers, 2);
    assert_int_equal(s->pipeline_workers, 0);
    assert_int_equal(s->max_body, 4096);
    assert_int_equal(s->max_items, 10);
    assert_int_equal(s->max_horizon, 48);
    assert_int_equal(s->max_header, 8192);
    assert_int_equal(s->idle_timeout, 5);
    assert_int_equal(s->request_time, 7);
    assert_string_equal(s->tls_cert, "tls/cert.pem");
    assert_string_equal(s->tls_key, "tls/key.pem");
    assert_string_equal(s->output_dir, "output-forecasted-data");
    /* Not part of what is forecast: the hash is the one without the section. */
    char h1[TSL_CONFIG_HASH_HEX + 1], h2[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_hash(cfg, h1);
    tsl_config_free(cfg);
    assert_int_equal(parse("", &cfg, &d), TSL_OK);
    tsl_config_hash(cfg, h2);
    assert_string_equal(h1, h2);
    assert_null(cfg->server.listen);
    assert_int_equal(cfg->server.pipeline_workers, -1);
    assert_int_equal(cfg->server.threads, 0);
    tsl_config_free(cfg);
}

static void expect_error(const char *server, const char *msg) {
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(parse(server, &cfg, &d), TSL_EINVAL);
    assert_null(cfg);
    if (!strstr(d.msg, msg)) fail_msg("message '%s' lacks '%s'", d.msg, msg);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("server:\n  listne: 1\n", "tsloop.yaml:4:3");
    expect_error("server:\n  listen: localhost\n", "server.listen: 'localhost' is not a listen");
    expect_error("server:\n  listen: \"[::1]\"\n", "not a listen address");
    expect_error("server:\n  listen: 1.2.3.4:99999\n", "port is not a number");
    expect_error("server:\n  threads: 0\n", "server.threads");
    expect_error("server:\n  max_body: 10\n", "server.max_body");
    expect_error("server:\n  tls: {cert: a.pem}\n", "server.tls: cert without key");
    expect_error("server:\n  tls: {cert: a.pem, key: b.pem, ca: c.pem}\n", "tsloop.yaml:4:");
}

static void test_listen_parse(void **state) {
    (void)state;
    char host[64];
    int port = -1;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_config_listen_parse("127.0.0.1:8080", host, sizeof host, &port, &d),
                     TSL_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(tsl_config_listen_parse("[::]:0", host, sizeof host, &port, &d), TSL_OK);
    assert_string_equal(host, "::");
    assert_int_equal(port, 0);
    assert_int_equal(tsl_config_listen_parse("::1:80", host, sizeof host, &port, &d), TSL_EINVAL);
    assert_int_equal(tsl_config_listen_parse(":80", host, sizeof host, &port, &d), TSL_EINVAL);
    assert_int_equal(tsl_config_listen_parse("h:", host, sizeof host, &port, &d), TSL_EINVAL);
    assert_int_equal(tsl_config_listen_parse("h:8x", host, sizeof host, &port, &d), TSL_EINVAL);
    assert_int_equal(tsl_config_listen_parse("aaaaaaaaaa:1", host, 8, &port, &d), TSL_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_listen_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
