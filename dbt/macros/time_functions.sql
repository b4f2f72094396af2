{#- Date/time expressions that differ between DuckDB and BigQuery. Models call these (or dbt's own
    cross-database macros) and never an engine-specific function directly. Sessions run in UTC on both. -#}

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

{#- ISO day of week, 1 = Monday … 7 = Sunday. EXTRACT(DAYOFWEEK) means Sunday = 1 on BigQuery and
    Sunday = 0 on DuckDB, so it is never used directly. -#}
{% macro iso_day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'olist_orders')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
    isodow({{ date_expr }})
{%- endmacro %}

{% macro bigquery__iso_day_of_week(date_expr) -%}
    extract(dayofweek from date_add({{ date_expr }}, interval -1 day)) {#- Sunday-first shifted to Monday-first -#}
{%- endmacro %}

{#- English day name, e.g. Monday. -#}
{% macro day_name(date_expr) -%}
    {{ return(adapter.dispatch('day_name', 'olist_orders')(date_expr)) }}
{%- endmacro %}

{% macro default__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}

{% macro bigquery__day_name(date_expr) -%}
    format_date('%A', {{ date_expr }})
{%- endmacro %}

{#- English month name, e.g. January. -#}
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
    24-hour periods on BigQuery. NULL when either end is NULL. -#}
{% macro days_between(start_ts, end_ts) -%}
    round({{ dbt.datediff(start_ts, end_ts, 'second') }} / 86400.0, 2)
{%- endmacro %}

{#- First day of the month of a timestamp or date, as a DATE. -#}
{% macro month_start(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{#- Monday of the ISO week of a timestamp or date, as a DATE. -#}
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
