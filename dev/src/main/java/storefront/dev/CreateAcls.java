package storefront.dev;

import java.io.FileReader;
import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Allows what the grants name, in one request; an ACL that exists already is left as it is.
 * With {@code --delete}, removes the ACLs of those grants instead (as an operator revoking a
 * grant at run time would); one that does not exist is no error.
 *
 * <pre>CreateAcls [--delete] BOOTSTRAP CLIENT_PROPERTIES GRANT...</pre>
 *
 * CLIENT_PROPERTIES is a file of Admin client settings (security.protocol, sasl.*, ssl.*) for a
 * principal allowed to alter ACLs (a super user). A GRANT is {@code PRINCIPAL,TYPE,NAME,OPERATION}
 * as shared_events::acls::Grant prints it, e.g. {@code orders,Topic,orders.order.fulfill,Write}:
 * it allows {@code User:PRINCIPAL} the operation on the topic, group or transactional id named
 * exactly NAME (a literal pattern), or, when NAME ends with {@code *}, on every one whose name
 * starts with what comes before it (a prefixed pattern); never a wildcard; from any host.
 * Prints {@code allowed GRANT} (or {@code removed GRANT}) per grant; exits 1 on any error.
 */
public final class CreateAcls {
    private CreateAcls() {}

    public static void main(String[] arguments) throws InterruptedException, IOException {
        boolean delete = arguments.length > 0 && arguments[0].equals("--delete");
        String[] args = delete ? Arrays.copyOfRange(arguments, 1, arguments.length) : arguments;
        if (args.length < 3) {
            System.err.println("usage: CreateAcls [--delete] BOOTSTRAP CLIENT_PROPERTIES PRINCIPAL,Topic|Group|TransactionalId,NAME[*],Read|Write|Describe|DescribeConfigs...");
            System.exit(2);
        }
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            bindings.add(binding(args[i]));
        }
        Properties config = new Properties();
        try (Reader reader = new FileReader(args[1])) {
            config.load(reader);
        }
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(config)) {
            if (delete) {
                List<AclBindingFilter> filters = bindings.stream().map(AclBinding::toFilter).toList();
                admin.deleteAcls(filters).all().get();
            } else {
                admin.createAcls(bindings).all().get();
            }
        } catch (ExecutionException e) {
            System.err.println((delete ? "removing" : "creating") + " ACLs failed: " + e.getCause());
            System.exit(1);
        }
        for (int i = 2; i < args.length; i++) {
            System.out.println((delete ? "removed " : "allowed ") + args[i]);
        }
    }

    private static AclBinding binding(String grant) {
        String[] parts = grant.split(",", -1);
        if (parts.length != 4 || parts[0].isEmpty() || parts[2].isEmpty()) {
            throw new IllegalArgumentException("a grant is PRINCIPAL,TYPE,NAME,OPERATION, not " + grant);
        }
        ResourceType type = switch (parts[1]) {
            case "Topic" -> ResourceType.TOPIC;
            case "Group" -> ResourceType.GROUP;
            case "TransactionalId" -> ResourceType.TRANSACTIONAL_ID;
            default -> throw new IllegalArgumentException(
                    "resource type Topic, Group or TransactionalId, not " + parts[1]);
        };
        AclOperation operation = switch (parts[3]) {
            case "Read" -> AclOperation.READ;
            case "Write" -> AclOperation.WRITE;
            case "Describe" -> AclOperation.DESCRIBE;
            case "DescribeConfigs" -> AclOperation.DESCRIBE_CONFIGS;
            default -> throw new IllegalArgumentException(
                    "operation Read, Write, Describe or DescribeConfigs, not " + parts[3]);
        };
        boolean prefixed = parts[2].length() > 1 && parts[2].endsWith("*");
        String name = prefixed ? parts[2].substring(0, parts[2].length() - 1) : parts[2];
        if (name.contains("*")) {
            throw new IllegalArgumentException("a NAME is a name or a prefix followed by *, not " + parts[2]);
        }
        return new AclBinding(
                new ResourcePattern(type, name, prefixed ? PatternType.PREFIXED : PatternType.LITERAL),
                new AccessControlEntry("User:" + parts[0], "*", operation, AclPermissionType.ALLOW));
    }
}
