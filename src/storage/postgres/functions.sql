-- openkvs's PostgreSQL functions. Applied at every start, under the migration lock and in one
-- transaction, when this file's text differs from the one applied last (its SHA-256 is kept in
-- schema_functions). Each statement must be safe to run again: CREATE OR REPLACE. Replacing cannot
-- change a function's parameters or result type; such a change drops the old function first here.
-- A change that nodes of an older openkvs must not undo when they restart comes with a numbered
-- migration, which those nodes refuse.

-- The write precondition (If-Match, If-None-Match on the etag): same rules as storage/conditions.ts.
CREATE OR REPLACE FUNCTION openkvs_condition_holds(p_exists boolean, p_etag text, p_if_match text[], p_if_none_match text[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$
  SELECT (p_if_match IS NULL OR (p_exists AND ('*' = ANY(p_if_match) OR (p_etag IS NOT NULL AND p_etag = ANY(p_if_match)))))
     AND (p_if_none_match IS NULL OR NOT p_exists
          OR NOT ('*' = ANY(p_if_none_match) OR (p_etag IS NOT NULL AND p_etag = ANY(p_if_none_match))))
$fn$;

-- A record write in one round trip: lock the store row (serializing the writers of one store on
-- every node), check the precondition, write, count, release the bytes the record had.
CREATE OR REPLACE FUNCTION openkvs_put_record(
  p_store text, p_key text, p_size bigint, p_type text, p_encoding text, p_decoded bigint, p_now bigint,
  p_etag text, p_value bytea, p_value_id text, p_if_match text[], p_if_none_match text[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  o_size bigint;
  o_value_id text;
  o_etag text;
  o_exists boolean;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store FOR UPDATE;
  IF NOT FOUND THEN RETURN 'no-store'; END IF;
  SELECT size, value_id, etag INTO o_size, o_value_id, o_etag FROM records WHERE store_id = p_store AND key = p_key;
  o_exists := FOUND;
  IF NOT openkvs_condition_holds(o_exists, o_etag, p_if_match, p_if_none_match) THEN RETURN 'precondition-failed'; END IF;
  INSERT INTO records (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, etag, value, value_id)
  VALUES (p_store, p_key, p_size, p_type, p_encoding, p_decoded, p_now, p_etag, p_value, p_value_id)
  ON CONFLICT (store_id, key) DO UPDATE SET size = EXCLUDED.size, content_type = EXCLUDED.content_type,
    content_encoding = EXCLUDED.content_encoding, decoded_size = EXCLUDED.decoded_size,
    modified_at = EXCLUDED.modified_at, etag = EXCLUDED.etag, value = EXCLUDED.value, value_id = EXCLUDED.value_id;
  UPDATE stores SET storage_bytes = storage_bytes + p_size - COALESCE(o_size, 0), write_count = write_count + 1,
    modified_at = p_now, accessed_at = GREATEST(accessed_at, p_now)
  WHERE id = p_store;
  IF o_value_id IS NOT NULL THEN
    INSERT INTO value_garbage (store_id, value_id, released_at) VALUES (p_store, o_value_id, p_now) ON CONFLICT DO NOTHING;
  END IF;
  RETURN 'ok';
END
$fn$;

-- A record delete in one round trip, with the same lock, precondition and accounting as a write.
CREATE OR REPLACE FUNCTION openkvs_delete_record(p_store text, p_key text, p_now bigint, p_if_match text[], p_if_none_match text[])
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  o_size bigint;
  o_value_id text;
  o_etag text;
  o_exists boolean;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store FOR UPDATE;
  IF NOT FOUND THEN RETURN 'no-store'; END IF;
  SELECT size, value_id, etag INTO o_size, o_value_id, o_etag FROM records WHERE store_id = p_store AND key = p_key;
  o_exists := FOUND;
  IF NOT openkvs_condition_holds(o_exists, o_etag, p_if_match, p_if_none_match) THEN RETURN 'precondition-failed'; END IF;
  IF o_exists THEN
    DELETE FROM records WHERE store_id = p_store AND key = p_key;
  END IF;
  UPDATE stores SET storage_bytes = storage_bytes - COALESCE(o_size, 0),
    delete_count = delete_count + (CASE WHEN o_exists THEN 1 ELSE 0 END),
    modified_at = p_now, accessed_at = GREATEST(accessed_at, p_now)
  WHERE id = p_store;
  IF o_value_id IS NOT NULL THEN
    INSERT INTO value_garbage (store_id, value_id, released_at) VALUES (p_store, o_value_id, p_now) ON CONFLICT DO NOTHING;
  END IF;
  RETURN CASE WHEN o_exists THEN 'deleted' ELSE 'absent' END;
END
$fn$;

-- A push of dataset items in one round trip: lock the dataset's row (serializing the pushers of one
-- dataset on every node), read where its items end, append them there in order, count them.
CREATE OR REPLACE FUNCTION openkvs_push_items(p_store text, p_items text[], p_clean bigint, p_bytes bigint, p_now bigint)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  o_count bigint;
  n bigint := cardinality(p_items);
BEGIN
  SELECT item_count INTO o_count FROM stores WHERE id = p_store AND kind = 'dataset' FOR UPDATE;
  IF NOT FOUND THEN RETURN 'no-store'; END IF;
  INSERT INTO dataset_items (store_id, seq, data)
  SELECT p_store, o_count + u.i - 1, u.data FROM unnest(p_items) WITH ORDINALITY AS u(data, i);
  UPDATE stores SET item_count = item_count + n, clean_item_count = clean_item_count + p_clean,
    write_count = write_count + n, storage_bytes = storage_bytes + p_bytes,
    modified_at = p_now, accessed_at = GREATEST(accessed_at, p_now)
  WHERE id = p_store;
  RETURN 'ok';
END
$fn$;
