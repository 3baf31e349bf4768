/*
 * librdkafka's mock Kafka cluster as a process, for weft's Kafka tests and `weft bench broker`.
 * It speaks the real Kafka protocol on 127.0.0.1 (produce, fetch, list offsets, consumer groups,
 * offset commits; NOT CreateTopics, DeleteTopics, DescribeGroups: see docs/brokers.md). It is a
 * test double inside librdkafka, not a production server: nothing is written to disk.
 *
 *   cc -O2 -o build/kafka-mock-cluster scripts/kafka-mock-cluster.c -lrdkafka
 *   build/kafka-mock-cluster [brokers]
 *
 * Prints one line `bootstrap <host:port,...>` on stdout once the brokers listen, then runs until
 * its stdin closes (the parent went away) or it gets SIGTERM/SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
        (void)sig;
        stopping = 1;
}

int main(int argc, char **argv) {
        int brokers = argc > 1 ? atoi(argv[1]) : 1;
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;
        struct sigaction action;
        char buf[256];

        if (brokers < 1 || brokers > 9) {
                fprintf(stderr, "usage: %s [brokers: 1 to 9]\n", argv[0]);
                return 2;
        }
        /* Only errors from the handle that owns the mock cluster; it talks to nobody itself. */
        if (rd_kafka_conf_set(conf, "log_level", getenv("KAFKA_MOCK_DEBUG") ? "7" : "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka-mock-cluster: %s\n", errstr);
                return 1;
        }
        /* KAFKA_MOCK_DEBUG=mock (or all): librdkafka's debug contexts, on stderr. */
        if (getenv("KAFKA_MOCK_DEBUG") &&
            rd_kafka_conf_set(conf, "debug", getenv("KAFKA_MOCK_DEBUG"), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka-mock-cluster: %s\n", errstr);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "kafka-mock-cluster: %s\n", errstr);
                return 1;
        }
        mcluster = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mcluster) {
                fprintf(stderr, "kafka-mock-cluster: could not create the mock cluster\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        memset(&action, 0, sizeof(action));
        action.sa_handler = on_signal;
        sigaction(SIGTERM, &action, NULL);
        sigaction(SIGINT, &action, NULL);

        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        /* The brokers run on librdkafka's own threads; this one waits for the end. */
        while (!stopping) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n == 0) break;
                if (n < 0 && errno != EINTR) break;
        }

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
