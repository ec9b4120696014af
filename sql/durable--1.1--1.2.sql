/* durable--1.1--1.2.sql: update of the durable extension from 1.1 to 1.2 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.2'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql, durable--1.0--1.1.sql
 * and then this script, so a fresh install and an updated one are the
 * same.  1.2 is about isolation between roles: quotas, fairness, names
 * per owner, notifications a role may see.  The library of 1.2 works with
 * the objects of 1.1 until this script has run.
 */
