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
 * <pre>CreateTopics BOOTSTRAP CLIENT_PROPERTIES PARTITIONS REPLICATION_FACTOR|default TOPIC[:compact|:delete]...</pre>
 *
 * CLIENT_PROPERTIES is a file of Admin client settings (security.protocol, sasl.*, ssl.*), empty
 * for an anonymous PLAINTEXT client; on a secured cluster, of a principal allowed to create
 * topics (a super user).
 * {@code default} leaves the replication factor to the cluster ({@code default.replication.factor}).
 * A topic named with {@code :compact} or {@code :delete} gets that {@code cleanup.policy}, also
 * when it exists already: a changelog is switched between the two (delete while an upstream
 * producer writes keyless records to it, compact once it is gone).
 * Prints {@code created NAME} or {@code exists NAME} per topic; exits 1 on any other error.
 */
public final class CreateTopics {
    /** The cleanup policies a topic argument may ask for, after a colon. */
    private static final List<String> POLICIES =
            List.of(TopicConfig.CLEANUP_POLICY_COMPACT, TopicConfig.CLEANUP_POLICY_DELETE);

    private CreateTopics() {}

    public static void main(String[] args) throws InterruptedException, IOException {
        if (args.length < 5) {
            System.err.println("usage: CreateTopics BOOTSTRAP CLIENT_PROPERTIES PARTITIONS REPLICATION_FACTOR|default TOPIC[:compact|:delete]...");
            System.exit(2);
        }
        Optional<Integer> partitions = Optional.of(Integer.parseInt(args[2]));
        Optional<Short> replicationFactor =
                "default".equals(args[3]) ? Optional.empty() : Optional.of(Short.parseShort(args[3]));
        List<NewTopic> topics = new ArrayList<>();
        Map<ConfigResource, Collection<AlterConfigOp>> policies = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            String name = args[i];
            NewTopic topic;
            int colon = name.lastIndexOf(':');
            if (colon >= 0) {
                String policy = name.substring(colon + 1);
                if (!POLICIES.contains(policy)) {
                    System.err.println("cleanup policy of " + name + " is neither compact nor delete");
                    System.exit(2);
                }
                name = name.substring(0, colon);
                topic = new NewTopic(name, partitions, replicationFactor)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, policy));
                policies.put(new ConfigResource(ConfigResource.Type.TOPIC, name), List.of(new AlterConfigOp(
                        new ConfigEntry(TopicConfig.CLEANUP_POLICY_CONFIG, policy), AlterConfigOp.OpType.SET)));
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
            if (!policies.isEmpty()) {
                try {
                    admin.incrementalAlterConfigs(policies).all().get();
                } catch (ExecutionException e) {
                    System.err.println("setting the cleanup policy of " + policies.keySet() + " failed: " + e.getCause());
                    failures++;
                }
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
