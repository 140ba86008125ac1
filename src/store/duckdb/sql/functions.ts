// The functions a user's SQL may call (POST /query): an allow-list, not a deny-list, so a function DuckDB adds
// later is refused until someone reads it and lists it here. None of these touches files, the network,
// settings, the catalog or another session; the table functions allowed only generate rows.

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

const AGGREGATES = words(`
  count count_star sum avg mean min max median mode quantile quantile_cont quantile_disc
  approx_count_distinct approx_quantile arg_max arg_min argmax argmin max_by min_by any_value first
  last list array_agg string_agg group_concat histogram bool_and bool_or stddev stddev_pop stddev_samp
  variance var_pop var_samp corr covar_pop covar_samp product fsum sumkahan kahan_sum entropy kurtosis
  skewness bit_and bit_or bit_xor count_if countif regr_slope regr_intercept regr_r2 json_group_array
  json_group_object json_group_structure
`);
const WINDOWS = words(`
  row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
  rank_dense
`);
const OPERATORS = words(`
  + - * / // % ^ ** || & | << >> ~~ !~~ ~~* !~~* ~~~ !~~~ -> ->> @> <@ && regexp_full_match
  array_extract list_extract struct_extract array_slice list_slice list_value list_pack struct_pack
  row trunc
`);
const INTERVALS = words(`
  to_years to_months to_weeks to_days to_hours to_minutes to_seconds to_milliseconds to_microseconds
  to_centuries to_decades to_millennia to_quarters
`);
const TIME = words(`
  date_trunc datetrunc date_part datepart date_diff datediff date_sub datesub date_add strftime
  strptime try_strptime epoch epoch_ms epoch_us epoch_ns make_date make_time make_timestamp
  to_timestamp age year month day hour minute second millisecond microsecond week weekofyear weekday
  dayofweek isodow dayofyear dayofmonth quarter yearweek isoyear dayname monthname last_day
  time_bucket extract current_date current_timestamp now get_current_timestamp today timezone century
  decade era millennium julian timezone_hour timezone_minute
`);
const TEXT = words(`
  lower lcase upper ucase length len strlen char_length character_length octet_length concat concat_ws
  substr substring replace trim ltrim rtrim split_part starts_with ends_with prefix suffix contains
  instr strpos position left right lpad rpad reverse repeat format printf string_split str_split
  string_to_array split regexp_matches regexp_extract regexp_extract_all regexp_replace
  regexp_split_to_array regexp_escape like_escape ilike_escape ascii chr md5 sha1 sha256 hash
  levenshtein jaccard jaro_similarity jaro_winkler_similarity damerau_levenshtein hamming mismatches
  editdist3 nfc_normalize strip_accents unicode ord to_base64 from_base64 base64 url_encode url_decode
  string_agg array_to_string list_aggr bar formatReadableSize format_bytes translate initcap
  parse_path parse_filename
`);
const JSON_FNS = words(`
  json json_extract json_extract_string json_extract_path json_extract_path_text json_value
  json_exists json_type json_keys json_array_length json_valid json_contains json_object json_array
  json_merge_patch json_quote to_json array_to_json row_to_json json_structure json_transform
  json_transform_strict from_json from_json_strict json_pretty
`);
const MATH = words(`
  abs round round_even roundbankers floor ceil ceiling greatest least sqrt cbrt pow power ln log log2
  log10 exp sign mod fmod gcd lcm pi degrees radians sin cos tan asin acos atan atan2 isnan isinf
  isfinite even factorial bit_count xor divide add subtract multiply
`);
const LISTS = words(`
  array_length list_contains list_has array_contains array_has list_position list_indexof
  array_position list_sort array_sort list_reverse_sort list_distinct array_distinct list_unique
  array_unique list_transform array_transform apply list_apply list_filter array_filter filter
  list_reduce array_reduce reduce list_concat array_concat list_cat array_cat list_append array_append
  array_push_back list_prepend array_prepend list_zip flatten list_sum list_min list_max list_avg
  list_count list_first list_last list_any_value list_aggregate array_aggregate list_has_any
  list_has_all array_has_any array_has_all list_intersect array_intersect list_select list_where
  list_grade_up generate_subscripts cardinality map map_extract map_keys map_values map_entries
  map_from_entries element_at struct_insert array_value
`);
const MISC = words(`
  coalesce ifnull nullif if iff typeof try uuid gen_random_uuid isodow to_hex hex unhex from_hex bin
  to_binary error alias constant_or_null
`);

/** Scalar, aggregate and window functions (lower case; DuckDB folds names to lower case when parsing). */
export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set(
  [AGGREGATES, WINDOWS, OPERATORS, INTERVALS, TIME, TEXT, JSON_FNS, MATH, LISTS, MISC].flat(),
);

/** Table functions in FROM: only row generators. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['range', 'generate_series', 'unnest']);
