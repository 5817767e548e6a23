package storefront.dev;

import java.io.FileReader;
import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates topics that do not exist yet, in one request; a topic that exists keeps its partitions.
 *
 * <pre>CreateTopics BOOTSTRAP CLIENT_PROPERTIES PARTITIONS REPLICATION_FACTOR|default TOPIC[:compact]...</pre>
 *
 * CLIENT_PROPERTIES is a file of Admin client settings (security.protocol, sasl.*, ssl.*), empty
 * for an anonymous PLAINTEXT client; on a secured cluster, of a principal allowed to create
 * topics (a super user).
 * {@code default} leaves the replication factor to the cluster ({@code default.replication.factor}).
 * A topic named with {@code :compact} gets {@code cleanup.policy=compact}, also when it exists
 * already (made before it was declared a changelog).
 * Prints {@code created NAME} or {@code exists NAME} per topic; exits 1 on any other error.
 */
public final class CreateTopics {
    /** The suffix of a topic argument that asks for a compacted topic. */
    private static final String COMPACT = ":compact";

    private CreateTopics() {}

    public static void main(String[] args) throws InterruptedException, IOException {
        if (args.length < 5) {
            System.err.println("usage: CreateTopics BOOTSTRAP CLIENT_PROPERTIES PARTITIONS REPLICATION_FACTOR|default TOPIC[:compact]...");
            System.exit(2);
        }
        Optional<Integer> partitions = Optional.of(Integer.parseInt(args[2]));
        Optional<Short> replicationFactor =
                "default".equals(args[3]) ? Optional.empty() : Optional.of(Short.parseShort(args[3]));
        List<NewTopic> topics = new ArrayList<>();
        Map<ConfigResource, Collection<AlterConfigOp>> compact = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            String name = args[i];
            NewTopic topic;
            if (name.endsWith(COMPACT)) {
                name = name.substring(0, name.length() - COMPACT.length());
                topic = new NewTopic(name, partitions, replicationFactor)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
                compact.put(new ConfigResource(ConfigResource.Type.TOPIC, name), List.of(new AlterConfigOp(
                        new ConfigEntry(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT),
                        AlterConfigOp.OpType.SET)));
            } else {
                topic = new NewTopic(name, partitions, replicationFactor);
            }
            topics.add(topic);
        }
        Properties config = new Properties();
        try (Reader reader = new FileReader(args[1])) {
            config.load(reader);
        }
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
            if (!compact.isEmpty()) {
                try {
                    admin.incrementalAlterConfigs(compact).all().get();
                } catch (ExecutionException e) {
                    System.err.println("compacting " + compact.keySet() + " failed: " + e.getCause());
                    failures++;
                }
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
