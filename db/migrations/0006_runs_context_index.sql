DROP INDEX `runs_model_dataset_runtime`;--> statement-breakpoint
CREATE INDEX `runs_context` ON `runs` (`model_id`,`dataset_id`,`runtime`,`hardware_key`,`synthetic`,`status`,`created_at`);