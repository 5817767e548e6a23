package storefront.dev;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates topics that do not exist yet, in one request; a topic that exists is left as it is.
 *
 * <pre>CreateTopics BOOTSTRAP PARTITIONS REPLICATION_FACTOR|default TOPIC...</pre>
 *
 * {@code default} leaves the replication factor to the cluster ({@code default.replication.factor}).
 * Prints {@code created NAME} or {@code exists NAME} per topic; exits 1 on any other error.
 */
public final class CreateTopics {
    private CreateTopics() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 4) {
            System.err.println("usage: CreateTopics BOOTSTRAP PARTITIONS REPLICATION_FACTOR|default TOPIC...");
            System.exit(2);
        }
        Optional<Integer> partitions = Optional.of(Integer.parseInt(args[1]));
        Optional<Short> replicationFactor =
                "default".equals(args[2]) ? Optional.empty() : Optional.of(Short.parseShort(args[2]));
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            topics.add(new NewTopic(args[i], partitions, replicationFactor));
        }
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        int failures = 0;
        try (Admin admin = Admin.create(config)) {
            for (Map.Entry<String, KafkaFuture<Void>> result : admin.createTopics(topics).values().entrySet()) {
                try {
                    result.getValue().get();
                    System.out.println("created " + result.getKey());
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) {
                        System.out.println("exists " + result.getKey());
                    } else {
                        System.err.println("creating " + result.getKey() + " failed: " + e.getCause());
                        failures++;
                    }
                }
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
