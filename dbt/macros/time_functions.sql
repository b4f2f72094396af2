{#- Date/time expressions that differ between DuckDB and BigQuery. Models call these (or dbt's own
    cross-database macros) and never an engine-specific function directly. Sessions run in UTC on both.

    Reporting time: timestamps are stored as UTC instants (TIMESTAMP on BigQuery, TIMESTAMPTZ on DuckDB).
    Every calendar judgement a model makes (date, month, hour of day, day of week, late or on time) is taken
    on the wall clock of var reporting_timezone (an IANA name, default America/Sao_Paulo: Olist's times),
    through local_datetime and the local_* macros built on it; never by truncating or casting the UTC
    instant. Elapsed time (days_between, rolling windows such as timestamp_ago) does not depend on the zone. -#}

{#- var reporting_timezone as a SQL string literal. -#}
{% macro reporting_timezone() -%}
    {%- set zone = var('reporting_timezone') -%}
    {%- if zone is not string or not zone or "'" in zone or "\\" in zone -%}
        {{ exceptions.raise_compiler_error("var reporting_timezone must be an IANA time zone name such as "
            ~ "America/Sao_Paulo, got " ~ zone) }}
    {%- endif -%}
    '{{ zone }}'
{%- endmacro %}

{#- The wall-clock time of the UTC instant `timestamp_expr` in var reporting_timezone: a DATETIME on
    BigQuery, a TIMESTAMP (without time zone) on DuckDB. The one conversion every local_* macro builds on.
    DuckDB's timezone(zone, TIMESTAMPTZ) needs the ICU extension (built into the duckdb wheel); the cast
    reads a plain TIMESTAMP as UTC (the session's zone), where timezone() would read it as local time. -#}
{% macro local_datetime(timestamp_expr) -%}
    {{ return(adapter.dispatch('local_datetime', 'olist_orders')(timestamp_expr)) }}
{%- endmacro %}

{% macro duckdb__local_datetime(timestamp_expr) -%}
    timezone({{ reporting_timezone() }}, cast({{ timestamp_expr }} as timestamptz))
{%- endmacro %}

{% macro bigquery__local_datetime(timestamp_expr) -%}
    datetime({{ timestamp_expr }}, {{ reporting_timezone() }})
{%- endmacro %}

{#- The local calendar day of a UTC instant, as a DATE. -#}
{% macro local_date(timestamp_expr) -%}
    cast({{ local_datetime(timestamp_expr) }} as date)
{%- endmacro %}

{#- The first day of the local month of a UTC instant, as a DATE. -#}
{% macro local_month(timestamp_expr) -%}
    {{ month_start(local_date(timestamp_expr)) }}
{%- endmacro %}

{#- The local hour of day of a UTC instant, 0-23. -#}
{% macro local_hour(timestamp_expr) -%}
    extract(hour from {{ local_datetime(timestamp_expr) }})
{%- endmacro %}

{#- The local wall-clock hour a UTC instant falls in (local_datetime truncated to the hour; same type). In the
    hour a clock goes back (e.g. 23:00-23:59 of 2018-02-17 in Sao Paulo) two UTC hours share one local hour. -#}
{% macro local_hour_start(timestamp_expr) -%}
    {{ return(adapter.dispatch('local_hour_start', 'olist_orders')(timestamp_expr)) }}
{%- endmacro %}

{% macro default__local_hour_start(timestamp_expr) -%}
    date_trunc('hour', {{ local_datetime(timestamp_expr) }})
{%- endmacro %}

{% macro bigquery__local_hour_start(timestamp_expr) -%}
    datetime_trunc({{ local_datetime(timestamp_expr) }}, hour)
{%- endmacro %}

{#- `timestamp_expr` minus `amount` `unit`s (minute, hour, day), still a TIMESTAMP. dbt.dateadd would give
    a DATETIME on BigQuery, which does not compare with TIMESTAMP columns. -#}
{% macro timestamp_minus(timestamp_expr, amount, unit) -%}
    {{ return(adapter.dispatch('timestamp_minus', 'olist_orders')(timestamp_expr, amount, unit)) }}
{%- endmacro %}

{% macro default__timestamp_minus(timestamp_expr, amount, unit) -%}
    ({{ timestamp_expr }} - interval '{{ amount | int }} {{ unit }}')
{%- endmacro %}

{% macro bigquery__timestamp_minus(timestamp_expr, amount, unit) -%}
    timestamp_sub({{ timestamp_expr }}, interval {{ amount | int }} {{ unit | upper }})
{%- endmacro %}

{#- The instant `amount` `unit`s before now. A constant per query: BigQuery prunes partitions with it. -#}
{% macro timestamp_ago(amount, unit) -%}
    {{ timestamp_minus(dbt.current_timestamp(), amount, unit) }}
{%- endmacro %}

{#- ISO day of week of a DATE, 1 = Monday … 7 = Sunday (of a UTC timestamp: pass local_date(ts)).
    EXTRACT(DAYOFWEEK) means Sunday = 1 on BigQuery and Sunday = 0 on DuckDB, so it is never used directly. -#}
{% macro iso_day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'olist_orders')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
    isodow({{ date_expr }})
{%- endmacro %}

{% macro bigquery__iso_day_of_week(date_expr) -%}
    extract(dayofweek from date_add({{ date_expr }}, interval -1 day)) {#- Sunday-first shifted to Monday-first -#}
{%- endmacro %}

{#- English day name of a DATE, e.g. Monday. -#}
{% macro day_name(date_expr) -%}
    {{ return(adapter.dispatch('day_name', 'olist_orders')(date_expr)) }}
{%- endmacro %}

{% macro default__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}

{% macro bigquery__day_name(date_expr) -%}
    format_date('%A', {{ date_expr }})
{%- endmacro %}

{#- English month name of a DATE, e.g. January. -#}
{% macro month_name(date_expr) -%}
    {{ return(adapter.dispatch('month_name', 'olist_orders')(date_expr)) }}
{%- endmacro %}

{% macro default__month_name(date_expr) -%}
    monthname({{ date_expr }})
{%- endmacro %}

{% macro bigquery__month_name(date_expr) -%}
    format_date('%B', {{ date_expr }})
{%- endmacro %}

{#- Elapsed days between two timestamps as a decimal rounded to 2 places (36 hours = 1.5). Counted in
    seconds so that both engines agree: day-level datediff counts midnights on DuckDB but whole
    24-hour periods on BigQuery. Elapsed time: the same in every zone, across a DST change too. NULL when
    either end is NULL. -#}
{% macro days_between(start_ts, end_ts) -%}
    round({{ dbt.datediff(start_ts, end_ts, 'second') }} / 86400.0, 2)
{%- endmacro %}

{#- First day of the month of a DATE (for a UTC timestamp: local_month). -#}
{% macro month_start(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{#- Monday of the ISO week of a DATE, as a DATE. -#}
{% macro week_start(expr) -%}
    {{ return(adapter.dispatch('week_start', 'olist_orders')(expr)) }}
{%- endmacro %}

{% macro default__week_start(expr) -%}
    cast(date_trunc('week', {{ expr }}) as date)
{%- endmacro %}

{% macro bigquery__week_start(expr) -%}
    date_trunc(cast({{ expr }} as date), isoweek)
{%- endmacro %}

{#- Whole months from month_start `first_month` to `later_month` (both DATEs on the 1st). -#}
{% macro months_between(first_month, later_month) -%}
    {{ dbt.datediff(first_month, later_month, 'month') }}
{%- endmacro %}
