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

-- Request queues. Every write locks the queue's row first (serializing the writers of one queue on
-- every node, so that counts stay exact and two clients never lock the same request), then counts
-- with openkvs_queue_counted. Results are jsonb: a status string, or what the write answers.

-- What a write did to a queue: its counts, order counters, clients and times, in one statement.
-- A second distinct clientKey sets had_multiple_clients (SET reads the row's old values).
CREATE OR REPLACE FUNCTION openkvs_queue_counted(
  p_store text, p_client text, p_now bigint, d_items bigint, d_handled bigint, d_bytes bigint,
  d_writes bigint, d_deletes bigint, d_front bigint, d_back bigint
) RETURNS void LANGUAGE sql AS $fn$
  UPDATE stores SET item_count = item_count + d_items, handled_count = handled_count + d_handled,
    storage_bytes = storage_bytes + d_bytes, write_count = write_count + d_writes,
    delete_count = delete_count + d_deletes, queue_front = queue_front + d_front, queue_back = queue_back + d_back,
    first_client = COALESCE(first_client, p_client),
    had_multiple_clients = had_multiple_clients OR (p_client IS NOT NULL AND first_client IS NOT NULL AND first_client <> p_client),
    -- A write that changed no request (a lock of nothing, an unlock of nothing) leaves modifiedAt.
    modified_at = CASE WHEN d_items <> 0 OR d_handled <> 0 OR d_writes <> 0 OR d_deletes <> 0 THEN p_now ELSE modified_at END,
    accessed_at = GREATEST(accessed_at, p_now)
  WHERE id = p_store
$fn$;

-- Adds requests in order; a uniqueKey (or id) already in the queue is not added again. Forefront:
-- the batch takes the numbers just before the front, in the order given. Answers an array of
-- [id, uniqueKey, wasAlreadyPresent, wasAlreadyHandled].
CREATE OR REPLACE FUNCTION openkvs_queue_add(
  p_store text, p_ids text[], p_keys text[], p_data text[], p_sizes bigint[], p_handled bigint[],
  p_forefront boolean, p_client text, p_now bigint
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  n integer := cardinality(p_ids);
  v_base bigint;
  -- Outcomes gather in arrays (appending to a jsonb value would copy it every time).
  v_ids text[] := '{}';
  v_present boolean[] := '{}';
  v_was_handled boolean[] := '{}';
  v_items bigint := 0;
  v_handled bigint := 0;
  v_bytes bigint := 0;
  o_id text;
  o_handled bigint;
BEGIN
  SELECT CASE WHEN p_forefront THEN queue_front - n ELSE queue_back END INTO v_base
  FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  FOR i IN 1..n LOOP
    INSERT INTO queue_requests (store_id, id, unique_key, data, size, handled_at, order_no)
    VALUES (p_store, p_ids[i], p_keys[i], p_data[i], p_sizes[i], p_handled[i], v_base + i - 1)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
      v_items := v_items + 1;
      v_bytes := v_bytes + p_sizes[i];
      IF p_handled[i] IS NOT NULL THEN v_handled := v_handled + 1; END IF;
      v_ids := v_ids || p_ids[i];
      v_present := v_present || false;
      v_was_handled := v_was_handled || false;
    ELSE
      SELECT id, handled_at INTO o_id, o_handled FROM queue_requests
      WHERE store_id = p_store AND openkvs_key_hash(unique_key) = openkvs_key_hash(p_keys[i]) AND unique_key = p_keys[i];
      IF NOT FOUND THEN
        SELECT id, handled_at INTO o_id, o_handled FROM queue_requests WHERE store_id = p_store AND id = p_ids[i];
      END IF;
      v_ids := v_ids || o_id;
      v_present := v_present || true;
      v_was_handled := v_was_handled || (o_handled IS NOT NULL);
    END IF;
  END LOOP;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, v_items, v_handled, v_bytes, v_items, 0,
    CASE WHEN p_forefront THEN -n ELSE 0 END, CASE WHEN p_forefront THEN 0 ELSE n END);
  RETURN COALESCE((SELECT jsonb_agg(jsonb_build_array(u.id, u.key, u.present, u.handled) ORDER BY u.i)
    FROM unnest(v_ids, p_keys, v_present, v_was_handled) WITH ORDINALITY AS u(id, key, present, handled, i)), '[]');
END
$fn$;

-- Replaces a request (adds it when absent): pending and forefront moves it to the front, handled
-- ends its lock; refused ("locked") while another client's lock on it lives. Answers
-- [id, uniqueKey, wasAlreadyPresent, wasAlreadyHandled].
CREATE OR REPLACE FUNCTION openkvs_queue_update(
  p_store text, p_id text, p_key text, p_data text, p_size bigint, p_handled bigint,
  p_forefront boolean, p_client text, p_now bigint
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_front bigint;
  v_back bigint;
  v_pending boolean := p_handled IS NULL;
  v_move boolean := p_handled IS NULL AND p_forefront;
  o record;
BEGIN
  SELECT queue_front, queue_back INTO v_front, v_back FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  SELECT id, unique_key, size, handled_at, lock_client, lock_expires_at INTO o
  FROM queue_requests WHERE store_id = p_store AND id = p_id;
  IF NOT FOUND THEN
    INSERT INTO queue_requests (store_id, id, unique_key, data, size, handled_at, order_no)
    VALUES (p_store, p_id, p_key, p_data, p_size, p_handled, CASE WHEN v_move THEN v_front - 1 ELSE v_back END)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      SELECT id, handled_at INTO o FROM queue_requests
      WHERE store_id = p_store AND openkvs_key_hash(unique_key) = openkvs_key_hash(p_key) AND unique_key = p_key;
      RETURN jsonb_build_array(o.id, p_key, true, o.handled_at IS NOT NULL);
    END IF;
    PERFORM openkvs_queue_counted(p_store, p_client, p_now, 1, CASE WHEN v_pending THEN 0 ELSE 1 END, p_size, 1, 0,
      CASE WHEN v_move THEN -1 ELSE 0 END, CASE WHEN v_move THEN 0 ELSE 1 END);
    RETURN jsonb_build_array(p_id, p_key, false, false);
  END IF;
  IF o.lock_expires_at > p_now AND o.lock_client IS DISTINCT FROM p_client THEN RETURN '"locked"'; END IF;
  UPDATE queue_requests SET data = p_data, size = p_size, handled_at = p_handled,
    order_no = CASE WHEN v_move THEN v_front - 1 ELSE order_no END,
    lock_client = CASE WHEN v_pending THEN lock_client END,
    lock_expires_at = CASE WHEN v_pending THEN lock_expires_at END
  WHERE store_id = p_store AND id = p_id;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, 0,
    (CASE WHEN v_pending THEN 0 ELSE 1 END) - (CASE WHEN o.handled_at IS NULL THEN 0 ELSE 1 END),
    p_size - o.size, 1, 0, CASE WHEN v_move THEN -1 ELSE 0 END, 0);
  RETURN jsonb_build_array(o.id, o.unique_key, true, o.handled_at IS NOT NULL);
END
$fn$;

-- Deletes a request; refused ("locked") while another client's lock on it lives.
CREATE OR REPLACE FUNCTION openkvs_queue_delete(p_store text, p_id text, p_client text, p_now bigint)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  o record;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN 'no-store'; END IF;
  SELECT size, handled_at, lock_client, lock_expires_at INTO o FROM queue_requests WHERE store_id = p_store AND id = p_id;
  IF NOT FOUND THEN RETURN 'absent'; END IF;
  IF o.lock_expires_at > p_now AND o.lock_client IS DISTINCT FROM p_client THEN RETURN 'locked'; END IF;
  DELETE FROM queue_requests WHERE store_id = p_store AND id = p_id;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, -1, CASE WHEN o.handled_at IS NULL THEN 0 ELSE -1 END,
    -o.size, 0, 1, 0, 0);
  RETURN 'deleted';
END
$fn$;

-- Deletes requests by id (p_ids[i]) or by uniqueKey (p_keys[i], where p_ids[i] is null). Answers
-- an array of [id, uniqueKey], one per reference: the row's, or what the reference named.
CREATE OR REPLACE FUNCTION openkvs_queue_delete_many(p_store text, p_ids text[], p_keys text[], p_client text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids text[] := '{}';
  v_keys text[] := '{}';
  v_items bigint := 0;
  v_handled bigint := 0;
  v_bytes bigint := 0;
  o record;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  FOR i IN 1..cardinality(p_ids) LOOP
    IF p_ids[i] IS NOT NULL THEN
      DELETE FROM queue_requests WHERE store_id = p_store AND id = p_ids[i] RETURNING id, unique_key, size, handled_at INTO o;
    ELSE
      DELETE FROM queue_requests
        WHERE store_id = p_store AND openkvs_key_hash(unique_key) = openkvs_key_hash(p_keys[i]) AND unique_key = p_keys[i]
        RETURNING id, unique_key, size, handled_at INTO o;
    END IF;
    IF FOUND THEN
      v_items := v_items + 1;
      v_bytes := v_bytes + o.size;
      IF o.handled_at IS NOT NULL THEN v_handled := v_handled + 1; END IF;
      v_ids := v_ids || o.id::text;
      v_keys := v_keys || o.unique_key;
    ELSE
      v_ids := v_ids || COALESCE(p_ids[i], '');
      v_keys := v_keys || COALESCE(p_keys[i], '');
    END IF;
  END LOOP;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, -v_items, -v_handled, -v_bytes, 0, v_items, 0, 0);
  RETURN COALESCE((SELECT jsonb_agg(jsonb_build_array(u.id, u.key) ORDER BY u.i)
    FROM unnest(v_ids, v_keys) WITH ORDINALITY AS u(id, key, i)), '[]');
END
$fn$;

-- Locks up to p_limit pending requests without a live lock from the front for p_client until
-- p_now + p_lock_ms: a range of the pending index. Answers {"items": [[id, uniqueKey, data,
-- handledAt, lockClient, lockExpiresAt], …] in queue order, "locked": whether any live lock remains}.
CREATE OR REPLACE FUNCTION openkvs_queue_lock_head(p_store text, p_limit integer, p_lock_ms bigint, p_client text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids text[];
  v_items jsonb;
  v_n bigint;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  -- The ids first, then an update by key: joined in one statement, a generic plan hashed the
  -- whole queue.
  v_ids := ARRAY(
    SELECT id FROM queue_requests
    WHERE store_id = p_store AND handled_at IS NULL AND (lock_expires_at IS NULL OR lock_expires_at <= p_now)
    ORDER BY order_no LIMIT p_limit
  );
  WITH u AS (
    UPDATE queue_requests SET lock_client = p_client, lock_expires_at = p_now + p_lock_ms
    WHERE store_id = p_store AND id = ANY(v_ids)
    RETURNING id, unique_key, data, handled_at, lock_client, lock_expires_at, order_no
  )
  SELECT COALESCE(jsonb_agg(jsonb_build_array(id, unique_key, data, handled_at, lock_client, lock_expires_at) ORDER BY order_no), '[]'),
    count(*) INTO v_items, v_n FROM u;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, 0, 0, 0, v_n, 0, 0, 0);
  -- The latest expiry, the first entry of the index of locks: an EXISTS of live locks was planned
  -- (generic plan) as a scan of the table.
  RETURN jsonb_build_object('items', v_items, 'locked', COALESCE(
    (SELECT max(lock_expires_at) FROM queue_requests WHERE store_id = p_store AND lock_expires_at IS NOT NULL), 0) > p_now);
END
$fn$;

-- Extends (p_lock_ms not null) or ends (null) the caller's live lock on a request; with forefront,
-- the request also moves to the front. Answers the new expiry (a number, null when ended) or a
-- refusal string.
CREATE OR REPLACE FUNCTION openkvs_queue_relock(p_store text, p_id text, p_lock_ms bigint, p_forefront boolean, p_client text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_front bigint;
  o record;
BEGIN
  SELECT queue_front INTO v_front FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  SELECT handled_at, lock_client, lock_expires_at INTO o FROM queue_requests WHERE store_id = p_store AND id = p_id;
  IF NOT FOUND THEN RETURN '"absent"'; END IF;
  IF o.handled_at IS NOT NULL OR o.lock_expires_at IS NULL OR o.lock_expires_at <= p_now THEN RETURN '"not-locked"'; END IF;
  IF o.lock_client IS DISTINCT FROM p_client THEN RETURN '"locked-by-other"'; END IF;
  UPDATE queue_requests SET lock_expires_at = p_now + p_lock_ms,
    lock_client = CASE WHEN p_lock_ms IS NULL THEN NULL ELSE lock_client END,
    order_no = CASE WHEN p_forefront THEN v_front - 1 ELSE order_no END
  WHERE store_id = p_store AND id = p_id;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, 0, 0, 0, 1, 0, CASE WHEN p_forefront THEN -1 ELSE 0 END, 0);
  RETURN to_jsonb(p_now + p_lock_ms);
END
$fn$;

-- Ends every live lock of p_client in the queue; answers how many.
-- Planned for its values at every call: a generic plan of the update, not knowing how few rows are
-- locked, scanned the table rather than the index of locks.
CREATE OR REPLACE FUNCTION openkvs_queue_unlock(p_store text, p_client text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $fn$
DECLARE
  n bigint;
BEGIN
  PERFORM 1 FROM stores WHERE id = p_store AND kind = 'queue' FOR UPDATE;
  IF NOT FOUND THEN RETURN '"no-store"'; END IF;
  UPDATE queue_requests SET lock_client = NULL, lock_expires_at = NULL
  WHERE store_id = p_store AND lock_expires_at > p_now AND lock_client IS NOT DISTINCT FROM p_client;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM openkvs_queue_counted(p_store, p_client, p_now, 0, 0, 0, n, 0, 0, 0);
  RETURN to_jsonb(n);
END
$fn$;
