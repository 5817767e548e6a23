package com.storefront.lake;

import com.networknt.schema.Error;
import com.networknt.schema.ExecutionContext;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaContext;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.dialect.Dialect;
import com.networknt.schema.dialect.Dialects;
import com.networknt.schema.format.Format;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.transforms.Transformation;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Checks a record's value against one of the event contract's accepted JSON Schemas (packaged
 * from shared-events/schemas) and passes the record on unchanged; a value the schema refuses
 * throws a {@link DataException} with the validator's messages, which Connect's
 * {@code errors.tolerance=all} sends to the dead-letter topic. It reads schemaless values, as
 * {@code JsonConverter} with {@code schemas.enable=false} makes them (maps, lists, strings,
 * numbers, booleans). One instance per topic, picked with a {@code TopicNameMatches} predicate.
 */
public class ContractCheck<R extends ConnectRecord<R>> implements Transformation<R> {
  public static final String SCHEMA = "schema";

  private static final ConfigDef CONFIG =
      new ConfigDef()
          .define(
              SCHEMA,
              ConfigDef.Type.STRING,
              ConfigDef.NO_DEFAULT_VALUE,
              ConfigDef.Importance.HIGH,
              "The contract's accepted schema the value must satisfy, by its file name in"
                  + " shared-events/schemas, e.g. order-status-change-event.accepted.json.");

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private String name;
  private Schema schema;

  @Override
  public void configure(Map<String, ?> configs) {
    name = (String) CONFIG.parse(configs).get(SCHEMA);
    // Draft 2020-12 with the contract's int32 format, which the sink narrows an int column's
    // value to without a check (a larger number would be a wrong one in the table).
    Dialect dialect = Dialect.builder(Dialects.getDraft202012()).format(new Int32()).build();
    SchemaRegistry registry =
        SchemaRegistry.withDefaultDialect(
            dialect,
            builder ->
                builder.schemaRegistryConfig(
                    // As the contract's own check (scripts/validate-events.py): formats too.
                    SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));
    try (InputStream file = ContractCheck.class.getResourceAsStream("/schemas/" + name)) {
      if (file == null) {
        throw new ConfigException(SCHEMA, name, "not one of the contract's accepted schemas");
      }
      schema = registry.getSchema(file);
    } catch (IOException error) {
      throw new ConfigException(SCHEMA, name, "unreadable: " + error.getMessage());
    }
  }

  @Override
  public R apply(R record) {
    List<Error> errors = schema.validate(MAPPER.valueToTree(record.value()));
    if (!errors.isEmpty()) {
      throw new DataException(
          "not what the contract accepts ("
              + name
              + "): "
              + errors.stream().map(ContractCheck::describe).collect(Collectors.joining("; ")));
    }
    return record;
  }

  /** Where in the value, as a JSON pointer ("/" for the value itself), and what is wrong. */
  private static String describe(Error error) {
    String where = error.getInstanceLocation().toString();
    return (where.isEmpty() ? "/" : where) + ": " + error.getMessage();
  }

  /** The contract's {@code int32}: an integer a 32-bit signed int holds. */
  private static final class Int32 implements Format {
    @Override
    public String getName() {
      return "int32";
    }

    @Override
    public boolean matches(ExecutionContext context, SchemaContext schema, JsonNode value) {
      return !value.isIntegralNumber() || value.canConvertToInt();
    }
  }

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  @Override
  public void close() {}
}
