-- run_metrics as a WITHOUT ROWID table clustered on (run_id, key): a run's metrics, and one metric
-- of a run, are then read with a single b-tree search instead of an index search plus a rowid
-- lookup. Measured on 100k runs x 8 metrics (docs/BENCHMARKS.md, Tracker).
CREATE TABLE `run_metrics_new` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`run_id`, `key`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `run_metrics_new` (`run_id`, `key`, `value`) SELECT `run_id`, `key`, `value` FROM `run_metrics`;
--> statement-breakpoint
DROP TABLE `run_metrics`;
--> statement-breakpoint
ALTER TABLE `run_metrics_new` RENAME TO `run_metrics`;
--> statement-breakpoint
CREATE INDEX `run_metrics_key_value` ON `run_metrics` (`key`,`value`,`run_id`);
