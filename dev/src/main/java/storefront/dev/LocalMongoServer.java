package storefront.dev;

import java.util.List;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * Starts mongo-java-server on a chosen host and port, with its data in memory or in an H2 file.
 *
 * <pre>LocalMongoServer HOST PORT memory|FILE</pre>
 *
 * Prints one line, {@code listening on HOST:PORT}, once it accepts connections; stops on SIGTERM
 * (closing the H2 file cleanly).
 *
 * <p>It answers the handshake as MongoDB 4.4 (wire version 9), the oldest server the Rust driver
 * 3.x accepts; mongo-java-server 1.47 would say wire version 8, which the driver refuses. The
 * version is only reported: the server does what it does whatever it says, and the driver sends
 * the services' commands alike to 4.2 and 4.4 (its later version checks, 5.0 for an aggregation
 * that writes and 8.0 for client bulk writes, concern commands the services do not send).
 */
public final class LocalMongoServer {
    private LocalMongoServer() {}

    private static final MongoVersion REPORTED = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: LocalMongoServer HOST PORT memory|FILE");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        MongoBackend backend = "memory".equals(args[2]) ? new MemoryBackend() : new H2Backend(args[2]);
        backend.version(REPORTED);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "shutdown"));
        System.out.println("listening on " + host + ":" + port);
        System.out.flush();
    }
}
