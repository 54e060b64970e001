CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`files` text NOT NULL,
	`sha256` text,
	`params` integer,
	`bytes` integer,
	`card` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`task` text NOT NULL,
	`file` text NOT NULL,
	`sha256` text,
	`size` integer,
	`split` text,
	`description` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `experiments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`model_id` text NOT NULL,
	`dataset_id` text NOT NULL,
	`runtime` text NOT NULL,
	`method_id` text NOT NULL,
	`grid` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`experiment_id` integer,
	`method_id` text NOT NULL,
	`family` text NOT NULL,
	`params` text NOT NULL,
	`model_id` text NOT NULL,
	`dataset_id` text NOT NULL,
	`runtime` text NOT NULL,
	`hardware_key` text,
	`hardware` text,
	`status` text DEFAULT 'queued' NOT NULL,
	`stage` text,
	`progress` real,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 3 NOT NULL,
	`lease_token` text,
	`lease_expires_at` integer,
	`available_at` integer,
	`worker_id` text,
	`error` text,
	`baseline_run_id` integer,
	`code_version` text,
	`seed` integer,
	`tags` text NOT NULL,
	`notes` text,
	`source` text DEFAULT 'executed' NOT NULL,
	`synthetic` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer,
	FOREIGN KEY (`experiment_id`) REFERENCES `experiments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `runs_status_available` ON `runs` (`status`,`available_at`);--> statement-breakpoint
CREATE INDEX `runs_experiment` ON `runs` (`experiment_id`);--> statement-breakpoint
CREATE INDEX `runs_method` ON `runs` (`method_id`);--> statement-breakpoint
CREATE INDEX `runs_family` ON `runs` (`family`);--> statement-breakpoint
CREATE INDEX `runs_model_dataset_runtime` ON `runs` (`model_id`,`dataset_id`,`runtime`);--> statement-breakpoint
CREATE INDEX `runs_created` ON `runs` (`created_at`);--> statement-breakpoint
CREATE TABLE `run_metrics` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`run_id`, `key`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_metrics_key_value` ON `run_metrics` (`key`,`value`,`run_id`);--> statement-breakpoint
CREATE TABLE `metric_points` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`step` integer NOT NULL,
	`value` real NOT NULL,
	`ts` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `metric_points_run_key_step` ON `metric_points` (`run_id`,`key`,`step`);--> statement-breakpoint
CREATE TABLE `artifacts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`kind` text NOT NULL,
	`path` text NOT NULL,
	`bytes` integer,
	`sha256` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `artifacts_run` ON `artifacts` (`run_id`);--> statement-breakpoint
CREATE TABLE `run_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`ts` integer NOT NULL,
	`level` text NOT NULL,
	`message` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_events_run_ts` ON `run_events` (`run_id`,`ts`);--> statement-breakpoint
CREATE TABLE `workers` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`capabilities` text NOT NULL,
	`hardware` text,
	`last_heartbeat_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workers_token_hash_unique` ON `workers` (`token_hash`);--> statement-breakpoint
CREATE TABLE `share_links` (
	`token` text PRIMARY KEY NOT NULL,
	`view_state` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer
);
