package org.interlink.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * Runs the Neo4j Community engine in this JVM with Bolt enabled, the way the
 * Neo4j server would, but from Maven Central jars and without Docker.
 *
 * Configuration comes from the environment so that platform/services and CI
 * decide addresses, memory and the password in one place (.env.example).
 */
public final class Launcher {

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(env("NEO4J_HOME_DIR", "var/neo4j")).toAbsolutePath();
        Files.createDirectories(home);
        String host = env("NEO4J_BOLT_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("NEO4J_BOLT_PORT", "7687"));
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            // Neo4j itself refuses passwords shorter than 8 characters; say so before starting.
            System.err.println("NEO4J_PASSWORD must be set to at least 8 characters");
            System.exit(2);
        }
        long pageCache = ByteUnit.parse(env("NEO4J_PAGECACHE", "512m"));

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                // The graph is a projection PostgreSQL can rebuild (graph_resync), so old
                // transaction logs buy nothing: kept for two days by default, a few resyncs
                // of a million records filled 27 GB of disk.
                .setConfig(GraphDatabaseSettings.keep_logical_logs,
                        env("NEO4J_TX_LOG_RETENTION", "2 files"))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutting down");
            service.shutdown();
            log("stopped");
            stopped.countDown();
        }, "neo4j-shutdown"));

        setPassword(service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        // platform/services waits for this line and a Bolt handshake before it reports "up".
        log("READY bolt://" + host + ":" + port + " home=" + home);
        stopped.await();
    }

    /**
     * The password lives in the system database; setting it on every start keeps it
     * equal to NEO4J_PASSWORD even when the environment changes between runs.
     */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (!isSamePassword(e)) {
                throw e;
            }
        }
    }

    private static boolean isSamePassword(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            if (message.contains("Old password and new password cannot be the same")) {
                return true;
            }
        }
        return false;
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }

    private static void log(String message) {
        System.out.println(java.time.Instant.now() + " interlink-neo4j " + message);
        System.out.flush();
    }
}
